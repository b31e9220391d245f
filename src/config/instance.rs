//! Which `failoverd@NAME` instance a settings file is: `NAME.toml` in a
//! folder named `failoverd` (the template unit reads
//! `/etc/failoverd/NAME.toml`), NAME not `failoverd` (the main unit's
//! file). Commands run from a shell with such a file read the instance's
//! credentials, `/etc/credstore/failoverd-NAME/`, as its unit does
//! (docs/service.md, "One failoverd per firewall").

use std::path::Path;

/// NAME, when `file` is an instance's settings file.
pub fn name_of(file: &Path) -> Option<String> {
    let file = &std::path::absolute(file).ok()?;
    let folder = file.parent()?.file_name()?;
    if folder != "failoverd" || file.extension()? != "toml" {
        return None;
    }
    let name = file.file_stem()?.to_string_lossy().into_owned();
    (name != "failoverd").then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_in_a_failoverd_folder_are_instances() {
        assert_eq!(name_of(Path::new("/etc/failoverd/hq.toml")).as_deref(), Some("hq"));
        assert_eq!(name_of(Path::new("/etc/failoverd/failoverd.toml")), None);
        assert_eq!(name_of(Path::new("/etc/failoverd/hq.xml")), None);
        assert_eq!(name_of(Path::new("/tmp/x/hq.toml")), None);
        assert_eq!(name_of(Path::new("/hq.toml")), None);
    }
}
