// The emulated device: memory with guard pages, and kernel launches by name through the table
// build.rs generates from kernels/*.cu (the same table the CUDA module loader uses).
//
// Launch: for each block in order (x fastest, then y, z), one fiber per thread runs the kernel's
// trampoline (which unpacks the driver-style `void**` argument array). The scheduler resumes
// every live fiber once per round; a round ends when each has reached a barrier or returned.
// In shuffled mode the fibers of each round are resumed in a random order (seeded), which
// exposes reads of shared memory that a missing __syncthreads() leaves unordered.
//
// Fibers switch through a few instructions of assembly on x86-64 ELF (callee-saved registers, the
// stack pointer, MXCSR and the x87 control word — what the ABI says a call preserves); elsewhere
// through ucontext, whose swapcontext also saves the signal mask with a system call on every
// switch (it was most of the emulator's time).
//
// Memory: every allocation ends against a PROT_NONE page, so a read or write past its end
// faults; the fault handler recognises our guard pages and turns the fault into a launch error
// naming the kernel and the address (sizes are rounded up to 16 bytes, so a stray access within
// that padding is not seen). Accesses before the start are not guarded.
#include <signal.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cuda_emu.h"

struct EmuKernel {
  const char* name;
  void (*trampoline)(void** args);
};
extern "C" const EmuKernel coin_emu_kernels[];
extern "C" const unsigned coin_emu_kernel_count;

namespace emu {
thread_local Ctx ctx;
thread_local uint64_t shfl_slots[1024];

namespace {
constexpr size_t kStack = 256 * 1024;

#if defined(__x86_64__) && defined(__ELF__)
// coin_emu_switch(save, load): pushes the callee-saved registers and the FP control words on
// the current stack, stores the stack pointer in *save, continues on the stack `load` (as left
// by an earlier switch or by make_context) and pops the same there.
extern "C" void coin_emu_switch(void** save, void* load);
asm(R"(
  .text
  .globl coin_emu_switch
  .type coin_emu_switch, @function
coin_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size coin_emu_switch, .-coin_emu_switch
)");

struct Context {
  void* sp = nullptr;
};

void switch_context(Context& save, Context& load) { coin_emu_switch(&save.sp, load.sp); }

// A context that starts `entry` (which never returns) on `stack`: the frame coin_emu_switch
// pops — FP control words, six zeroed registers, `entry` as the return address — below a
// dummy return slot, so `entry` starts with the stack aligned as after a call.
void make_context(Context& c, char* stack, size_t size, void (*entry)()) {
  uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
  uint64_t* sp = (uint64_t*)top;
  *--sp = 0;                 // entry's own return address: never used
  *--sp = (uint64_t)entry;   // where coin_emu_switch's ret goes
  for (int i = 0; i < 6; ++i) *--sp = 0;  // rbp rbx r12 r13 r14 r15
  uint32_t mxcsr;
  uint16_t fpucw;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpucw));
  *--sp = (uint64_t)mxcsr | ((uint64_t)fpucw << 32);
  c.sp = sp;
}
#else
struct Context {
  ucontext_t uc;
};

void switch_context(Context& save, Context& load) { swapcontext(&save.uc, &load.uc); }

void make_context(Context& c, char* stack, size_t size, void (*entry)()) {
  getcontext(&c.uc);
  c.uc.uc_stack.ss_sp = stack;
  c.uc.uc_stack.ss_size = size;
  c.uc.uc_link = nullptr;
  makecontext(&c.uc, entry, 0);
}
#endif

struct Fiber {
  Context uc;
  std::vector<char> stack;
  bool done = false;
  uint3 tid{0, 0, 0};
  unsigned linear = 0;
};

struct State {
  Context sched;
  std::vector<Fiber> fibers;
  Fiber* current = nullptr;
  void (*tramp)(void**) = nullptr;
  void** args = nullptr;
  std::vector<unsigned char> smem;
  bool shuffled = false;
  uint64_t seed = 0;
  std::string error;
  sigjmp_buf fault_jmp;
  bool in_launch = false;
  uintptr_t fault_addr = 0;
};
thread_local State st;

struct Alloc {
  char* base;
  size_t len;   // mapped bytes, guard page included
  size_t bytes; // what the caller asked for
};
std::mutex alloc_mu;
std::map<uintptr_t, Alloc> allocs;  // keyed by the returned pointer
size_t page = 4096;

uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void fiber_main() {
  Fiber* f = st.current;
  st.tramp(st.args);
  f->done = true;
  switch_context(f->uc, st.sched);
}

bool is_guard(uintptr_t a) {
  std::lock_guard<std::mutex> g(alloc_mu);
  for (auto& kv : allocs) {
    uintptr_t guard = (uintptr_t)kv.second.base + kv.second.len - page;
    if (a >= guard && a < guard + page) return true;
  }
  return false;
}

struct sigaction old_segv, old_bus;

void on_fault(int sig, siginfo_t* info, void* uctx) {
  uintptr_t a = (uintptr_t)info->si_addr;
  if (st.in_launch && is_guard(a)) {
    st.fault_addr = a;
    siglongjmp(st.fault_jmp, 1);
  }
  // Not ours: let the previous handler (or the default action) deal with it.
  struct sigaction* old = sig == SIGSEGV ? &old_segv : &old_bus;
  sigaction(sig, old, nullptr);
  (void)uctx;
}

void install_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    page = (size_t)sysconf(_SC_PAGESIZE);
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
  });
}
}  // namespace

void barrier() {
  Fiber* f = st.current;
  switch_context(f->uc, st.sched);
}

void fail(const char* what) {
  if (st.error.empty()) st.error = what;
}

void* dynamic_smem() { return st.smem.data(); }
}  // namespace emu

using namespace emu;

extern "C" {

void* coin_emu_alloc(size_t bytes) {
  install_handler();
  size_t padded = (bytes + 15) / 16 * 16;
  if (padded == 0) padded = 16;
  size_t body = (padded + page - 1) / page * page;
  size_t len = body + page;
  void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  char* base = (char*)m;
  mprotect(base + body, page, PROT_NONE);
  char* p = base + body - padded;
  // GPU memory comes back holding whatever was there: NaN bytes make a kernel that reads what
  // it never wrote fail loudly instead of seeing zeros.
  memset(p, 0xFF, padded);
  std::lock_guard<std::mutex> g(alloc_mu);
  allocs[(uintptr_t)p] = Alloc{base, len, bytes};
  return p;
}

int coin_emu_free(void* p) {
  std::lock_guard<std::mutex> g(alloc_mu);
  auto it = allocs.find((uintptr_t)p);
  if (it == allocs.end()) return -1;
  munmap(it->second.base, it->second.len);
  allocs.erase(it);
  return 0;
}

unsigned coin_emu_kernel_total() { return coin_emu_kernel_count; }
const char* coin_emu_kernel_name(unsigned i) {
  return i < coin_emu_kernel_count ? coin_emu_kernels[i].name : nullptr;
}

void coin_emu_set_schedule(int shuffled, uint64_t seed) {
  st.shuffled = shuffled != 0;
  st.seed = seed;
}

// Returns 0 on success; otherwise writes a message to `err` (NUL-terminated).
int coin_emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                    unsigned by, unsigned bz, unsigned smem_bytes, void** args, char* err,
                    size_t err_len) {
  install_handler();
  auto say = [&](const std::string& m) {
    std::snprintf(err, err_len, "%s", m.c_str());
    return 1;
  };
  const EmuKernel* k = nullptr;
  for (unsigned i = 0; i < coin_emu_kernel_count; ++i)
    if (std::strcmp(coin_emu_kernels[i].name, name) == 0) k = &coin_emu_kernels[i];
  if (!k) return say(std::string("no kernel named '") + name + "' in the emulated module table");
  unsigned threads = bx * by * bz;
  if (threads == 0 || threads > 1024 || gx == 0 || gy == 0 || gz == 0 || gy > 65535 ||
      gz > 65535)
    return say("invalid launch configuration for " + std::string(name));
  if (smem_bytes > 227 * 1024) return say("dynamic shared memory over 227 KiB");
  st.tramp = k->trampoline;
  st.args = args;
  st.error.clear();
  st.fibers.resize(threads);
  for (auto& f : st.fibers)
    if (f.stack.size() != kStack) f.stack.assign(kStack, 0);
  st.smem.assign(smem_bytes + 16, 0);
  ctx.block_dim = dim3(bx, by, bz);
  ctx.grid_dim = dim3(gx, gy, gz);
  std::vector<unsigned> order(threads);
  uint64_t counter = 0;
  st.in_launch = true;
  if (sigsetjmp(st.fault_jmp, 1) != 0) {
    st.in_launch = false;
    char msg[256];
    std::snprintf(msg, sizeof msg,
                  "%s: out-of-bounds access at %#lx (block %u,%u,%u thread %u,%u,%u): past "
                  "the end of a device allocation",
                  name, (unsigned long)st.fault_addr, ctx.block_idx.x, ctx.block_idx.y,
                  ctx.block_idx.z, ctx.thread_idx.x, ctx.thread_idx.y, ctx.thread_idx.z);
    return say(msg);
  }
  for (unsigned z = 0; z < gz; ++z)
    for (unsigned y = 0; y < gy; ++y)
      for (unsigned x = 0; x < gx; ++x) {
        ctx.block_idx = uint3{x, y, z};
        ++ctx.block_serial;
        // Poison dynamic shared memory: reads before writes show up as NaN.
        float nan = std::nanf("");
        for (size_t i = 0; i + 4 <= st.smem.size(); i += 4) std::memcpy(&st.smem[i], &nan, 4);
        for (unsigned t = 0; t < threads; ++t) {
          Fiber& f = st.fibers[t];
          f.done = false;
          f.linear = t;
          f.tid = uint3{t % bx, t / bx % by, t / (bx * by)};
          make_context(f.uc, f.stack.data(), f.stack.size(), fiber_main);
        }
        bool live = true;
        while (live) {
          live = false;
          for (unsigned t = 0; t < threads; ++t) order[t] = t;
          if (st.shuffled)
            for (unsigned t = threads; t > 1; --t) {
              uint64_t r = mix(st.seed ^ mix(++counter));
              std::swap(order[t - 1], order[r % t]);
            }
          for (unsigned t : order) {
            Fiber& f = st.fibers[t];
            if (f.done) continue;
            st.current = &f;
            ctx.thread_idx = f.tid;
            ctx.linear_tid = f.linear;
            switch_context(st.sched, f.uc);
            live |= !f.done;
          }
        }
      }
  st.in_launch = false;
  if (!st.error.empty()) return say(std::string(name) + ": " + st.error);
  return 0;
}
}
