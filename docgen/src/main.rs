//! `failoverd-docgen OUT_DIR`: writes failoverd.8, failoverd.toml.5 and the
//! bash, zsh and fish completions into OUT_DIR (scripts/package.sh calls it).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: failoverd-docgen OUT_DIR");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("failoverd-docgen: cannot create {}: {e}", dir.display());
        return ExitCode::from(1);
    }
    for (name, text) in docgen::render_all() {
        let path = dir.join(name);
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("failoverd-docgen: cannot write {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
