//! `failoverd mail-test`: one test mail through the configured server; the
//! server's answer, or the reason it was not accepted.
//!
//! Exit: 0 accepted; 1 not; 2 configuration or no `[mail]`.

use std::io::Write;
use std::path::Path;

use super::exit;
use super::probe::load;
use crate::mail::outbox::mail_test;
use crate::mail::types::MailSettings;

pub fn run(path: &Path, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let Some(plan) = load(path, err) else {
        return exit::CONFIG;
    };
    let Some(mail) = plan.settings.mail.as_ref() else {
        let _ = writeln!(err, "failoverd: no [mail] in {}: add one to send mail", path.display());
        return exit::CONFIG;
    };
    if mail.username.is_some() && mail.password.as_ref().is_none_or(|p| p.secret.is_none()) {
        let _ = writeln!(err, "failoverd: [mail] username is set but no password could be read");
        return exit::CONFIG;
    }
    let settings = MailSettings::from_config(mail);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return exit::FAILED;
    };
    match rt.block_on(mail_test(&settings, &host)) {
        Ok(answer) => {
            let _ = writeln!(out, "accepted by {}:{}: {answer}", settings.host, settings.port);
            exit::OK
        }
        Err(reason) => {
            let _ = writeln!(out, "not accepted by {}:{}: {reason}", settings.host, settings.port);
            exit::FAILED
        }
    }
}
