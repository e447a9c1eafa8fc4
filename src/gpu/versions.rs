//! Version arithmetic shared by build.rs (`#[path]`-included there) and the runtime: the CUDA
//! architecture list, nvcc's release, and the driver's CUDA version. Pure functions, tested
//! here.

/// The architectures of `COIN_CUDA_ARCHS` ("80,90,100"), as numbers, in the given order;
/// entries that are not numbers are dropped.
pub fn parse_archs(list: &str) -> Vec<u32> {
    list.split(',')
        .filter_map(|s| s.trim().parse::<u32>().ok())
        .collect()
}

/// The lowest architecture of the list (the PTX target): compared as numbers, so "100" is
/// above "80"; 80 when the list is empty.
pub fn lowest_arch(list: &str) -> u32 {
    parse_archs(list).into_iter().min().unwrap_or(80)
}

/// The CUDA version in the driver's encoding (1000·major + 10·minor) of an nvcc release string
/// such as "13.0, V13.0.88".
pub fn cuda_version_of_release(release: &str) -> Option<i32> {
    let v = release.split(',').next()?.trim();
    let (major, minor) = v.split_once('.')?;
    Some(major.trim().parse::<i32>().ok()? * 1000 + minor.trim().parse::<i32>().ok()? * 10)
}

/// "13.0" for 13000.
pub fn cuda_version_text(v: i32) -> String {
    format!("{}.{}", v / 1000, (v % 1000) / 10)
}

/// The oldest Linux driver of a CUDA major version (CUDA 13: 580, 12: 525, 11: 450).
pub fn min_driver_for(cuda: i32) -> &'static str {
    match cuda / 1000 {
        13 => "580",
        12 => "525",
        11 => "450",
        _ => "a driver of that CUDA version",
    }
}

/// Ok when a driver supporting CUDA `driver` (its `cuDriverGetVersion`) can load kernels built
/// for CUDA `built`; otherwise a message naming both and the driver needed.
pub fn check_driver(driver: i32, built: i32) -> Result<(), String> {
    if driver >= built {
        return Ok(());
    }
    Err(format!(
        "the NVIDIA driver supports CUDA {}, but these kernels were built with CUDA {}: update \
         the driver to ≥ {} (or rebuild with an nvcc of CUDA ≤ {}), or use --device cpu",
        cuda_version_text(driver),
        cuda_version_text(built),
        min_driver_for(built),
        cuda_version_text(driver)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architectures_compare_as_numbers() {
        assert_eq!(parse_archs("80,90,100"), vec![80, 90, 100]);
        assert_eq!(lowest_arch("80,90,100"), 80);
        assert_eq!(lowest_arch("100, 90"), 90);
        assert_eq!(lowest_arch(""), 80);
    }

    #[test]
    fn driver_versions() {
        assert_eq!(cuda_version_of_release("13.0, V13.0.88"), Some(13000));
        assert_eq!(cuda_version_of_release("12.4, V12.4.131"), Some(12040));
        assert_eq!(cuda_version_of_release("garbage"), None);
        assert!(check_driver(13000, 13000).is_ok());
        assert!(check_driver(13020, 13000).is_ok());
        let e = check_driver(12040, 13000).unwrap_err();
        assert!(
            e.contains("CUDA 12.4") && e.contains("CUDA 13.0") && e.contains("≥ 580"),
            "{e}"
        );
    }
}
