//! `make dist` (`scripts/dist.sh`): the shipped binaries are stripped and their debug
//! symbols kept apart, linked by `.gnu_debuglink`. Run on this build's binaries
//! (`FROM=`), so the test does not build release.

mod slow {
    use std::path::Path;
    use std::process::Command;

    use accord_tests::{binary, stderr, stdout};

    /// The section names of an ELF file, from `readelf -S`.
    fn sections(file: &Path) -> String {
        let out = Command::new("readelf")
            .arg("-SW")
            .arg(file)
            .output()
            .expect("readelf (binutils) runs");
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    }

    #[test]
    fn dist_strips_the_binaries_and_keeps_their_symbols_apart() {
        let from = binary("accord").parent().unwrap().to_path_buf();
        assert!(
            from.join("accord-agent").exists(),
            "build accord-agent first"
        );
        let out_dir = tempfile::tempdir().unwrap();
        let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/dist.sh"))
            .arg(out_dir.path())
            .env("FROM", &from)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        for bin in ["accord", "accord-agent"] {
            let stripped = out_dir.path().join(bin);
            let symbols = out_dir.path().join(format!("{bin}.debug"));
            let shipped = sections(&stripped);
            assert!(
                !shipped.contains(".debug_info"),
                "{bin} still has debug info"
            );
            assert!(
                !shipped.contains(".symtab"),
                "{bin} still has a symbol table"
            );
            assert!(
                shipped.contains(".gnu_debuglink"),
                "{bin} has no debug link"
            );
            let kept = sections(&symbols);
            assert!(kept.contains(".debug_info") && kept.contains(".debug_line"));
            assert!(
                kept.contains(".symtab"),
                "{bin}.debug lost the symbol table"
            );
            // The link names the symbol file beside it.
            let link = Command::new("readelf")
                .args(["-p", ".gnu_debuglink"])
                .arg(&stripped)
                .output()
                .unwrap();
            assert!(stdout(&link).contains(&format!("{bin}.debug")));
            // Smaller, and still the program.
            let size = |p: &Path| std::fs::metadata(p).unwrap().len();
            assert!(
                size(&stripped) * 4 < size(&from.join(bin)),
                "{bin} barely shrank"
            );
            let version = Command::new(&stripped).arg("--version").output().unwrap();
            assert!(version.status.success(), "{}", stderr(&version));
        }
        let sums = std::fs::read_to_string(out_dir.path().join("SHA256SUMS")).unwrap();
        assert_eq!(sums.lines().count(), 4, "{sums}");
        let check = Command::new("sha256sum")
            .args(["--check", "--quiet", "SHA256SUMS"])
            .current_dir(out_dir.path())
            .output()
            .unwrap();
        assert!(check.status.success(), "{}", stdout(&check));
    }
}
