//! Hostile tunnel tables never panic the view: random columns of random
//! cells either become rows (then every row has all three values, in
//! range) or an error whose message names a cause; and the member views
//! and trackers take any rows.

use failoverd::firewall::view::table::{Cell, Column, assemble};
use failoverd::firewall::view::{GroupMembers, Timing, View};
use proptest::prelude::*;
use std::time::Duration;

fn cell() -> impl Strategy<Value = Cell> {
    prop_oneof![
        (-3i64..5).prop_map(Cell::Integer),
        any::<i64>().prop_map(Cell::Integer),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Cell::Text),
        "[A-Za-z_]{1,12}".prop_map(|s| Cell::Text(s.into_bytes())),
        Just(Cell::Other("counter32")),
        Just(Cell::Other("null")),
    ]
}

fn column() -> impl Strategy<Value = Column> {
    proptest::collection::vec((proptest::collection::vec(0u32..6, 0..3), cell()), 0..12)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn any_columns_give_rows_or_a_reason(names in column(), status in column(), activated in column()) {
        match assemble(&names, &status, &activated) {
            Ok(rows) => {
                prop_assert_eq!(rows.len(), names.len());
                let groups = vec![GroupMembers {
                    name: "G".into(),
                    members: rows.iter().take(3).map(|r| r.name.clone()).collect(),
                }];
                let mut v = View::new(groups, Timing { verify_within: Duration::from_secs(60), disagree_after: Duration::from_secs(60) });
                v.walked(Ok(rows), tokio::time::Instant::now());
                prop_assert_eq!(v.groups().len(), 1);
            }
            Err(e) => {
                let text = e.to_string();
                prop_assert!(text.contains("tunnel table"), "{}", text);
            }
        }
    }
}
