//! What the status page shows (docs/status-page.md): the status, each
//! target's chart from the history, and the events of the last day; the
//! history's save and load (the shell opens the file).

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

impl Core {
    /// Writes the page's points to `w` (docs/state-file.md,
    /// "page-history.bin"); the number of streams written.
    pub fn save_history(&self, w: &mut impl std::io::Write, clocks: Clocks) -> std::io::Result<usize> {
        self.history.save_to(w, &self.engine.streams(), clocks)
    }

    /// Reads the page's points saved by an earlier run from `r` (at start).
    pub fn restore_history(
        &mut self,
        r: &mut impl std::io::Read,
        clocks: Clocks,
    ) -> Result<super::history::saved::Restored, String> {
        self.history.restore_from(r, &self.engine.streams(), clocks)
    }

    /// What the history file held at start: the page's event list and the
    /// shadow report's records (history/writer.rs).
    pub fn seed_history(&mut self, seed: crate::history::writer::Seed, wall: std::time::SystemTime) {
        self.shadow = seed.recent;
        let (index, connections) = (&self.index, &self.plan.settings.connections);
        self.shadow
            .share_names(&|s| super::pairing::plan_name(index, connections, s));
        self.history.seed_events(seed.page, wall);
    }

    /// Events from before the start for the page's list (the event
    /// history's, oldest first): see [`super::history::History::seed_events`].
    pub fn seed_page_events(
        &mut self,
        events: impl IntoIterator<Item = crate::page::Event>,
        wall: std::time::SystemTime,
    ) {
        self.history.seed_events(events, wall);
    }
}
