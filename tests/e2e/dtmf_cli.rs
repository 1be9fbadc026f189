//! `ivory dtmf FILE.wav` on tones made by `tools/make-dtmf-wav.sh` (sox): the digits heard are the
//! last line of standard output, and nothing is printed for a file without digits.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{TempDir, peer_available, repository_root};

fn generate(dir: &Path, name: &str, arguments: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let status = Command::new(repository_root().join("tools/make-dtmf-wav.sh"))
        .args(arguments)
        .arg(&out)
        .status()
        .expect("run tools/make-dtmf-wav.sh");
    assert!(status.success(), "make-dtmf-wav.sh {arguments:?} failed");
    out
}

fn heard(file: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ivory"))
        .arg("dtmf")
        .arg(file)
        .output()
        .expect("run ivory dtmf");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.success(), stdout)
}

#[test]
fn ivory_dtmf_prints_the_digits_of_generated_tones() {
    if !peer_available("sox") {
        return;
    }
    let dir = TempDir::new("dtmf-cli");
    let cases: [(&str, &[&str]); 4] = [
        ("all.wav", &["147*2580369#ABCD"]),
        (
            "fast-ulaw.wav",
            &["-u", "-o", "45", "-g", "48", "9876543210"],
        ),
        ("quiet.wav", &["-l", "-25", "-u", "123#"]),
        ("long.wav", &["-o", "400", "-g", "200", "55"]),
    ];
    for (name, arguments) in cases {
        let file = generate(dir.path(), name, arguments);
        let digits = arguments.last().copied().unwrap_or_default();
        let (ok, stdout) = heard(&file);
        assert!(ok, "ivory dtmf {name} failed");
        assert_eq!(stdout.lines().last(), Some(digits), "{name}: {stdout:?}");
    }
}

#[test]
fn ivory_dtmf_prints_nothing_for_silence_and_fails_on_a_missing_file() {
    let dir = TempDir::new("dtmf-cli-silence");
    let silent = dir.path().join("silence.wav");
    crate::support::audio::write_wav(&silent, &crate::support::audio::silence(2000))
        .expect("write a silent WAV");
    let (ok, stdout) = heard(&silent);
    assert!(ok);
    assert_eq!(stdout, "", "no digits, no output");
    let (ok, _) = heard(&dir.path().join("missing.wav"));
    assert!(!ok, "a missing file is an error");
}
