//! What the status page shows (docs/status-page.md): the status, each
//! target's chart from the history, and the events of the last day.

use super::Core;
use crate::daemon::persist::Clocks;
use crate::page::Page;

impl Core {
    /// The page as of `clocks`.
    pub fn page(&self, clocks: Clocks) -> Page {
        let status = self.status(clocks);
        let charts = status
            .groups
            .iter()
            .map(|g| {
                self.engine
                    .member_streams(&g.name)
                    .into_iter()
                    .map(|ids| ids.into_iter().map(|id| self.history.chart(id, clocks.mono)).collect())
                    .collect()
            })
            .collect();
        Page {
            status,
            charts,
            events: self.history.events(clocks.wall),
            shadow: self.shadow.lines(&self.plan, clocks.wall),
            now: clocks
                .wall
                .duration_since(std::time::SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }
}
