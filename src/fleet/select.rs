//! Which instances a run takes: `--instances a,b` by name, then `--shard K/N`.
//!
//! A shard is the instances whose position in the names' sorted order is K-1 modulo N:
//! the same on every runner of a CI matrix with no coordination, the N shards together
//! cover each instance exactly once, and their sizes differ by at most one. Adding an
//! instance may move others to another shard; that only changes which runner checks them.

use super::{Fleet, FleetError, Instance};
use std::str::FromStr;

/// `--shard K/N`: the K-th of N shares (1 ≤ K ≤ N).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("`{0}` is not K/N (e.g. 1/4: the first of four shards)")]
    Shape(String),
    #[error("`{given}`: there is no shard {index} of {count}; K goes from 1 to N")]
    OutOfRange {
        given: String,
        index: usize,
        count: usize,
    },
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Shard, ShardError> {
        let shape = || ShardError::Shape(text.to_string());
        let (k, n) = text.split_once('/').ok_or_else(shape)?;
        let index: usize = k.trim().parse().map_err(|_| shape())?;
        let count: usize = n.trim().parse().map_err(|_| shape())?;
        if index == 0 || count == 0 || index > count {
            return Err(ShardError::OutOfRange {
                given: text.to_string(),
                index,
                count,
            });
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether the instance at `position` of the sorted names is in this shard.
    fn holds(self, position: usize) -> bool {
        position % self.count == self.index - 1
    }
}

/// The instances of `fleet` a run takes, in the file's order: those `names` lists (all
/// when empty), then this `shard`'s share of them. An unknown name is an error listing
/// the known ones.
pub fn pick(
    fleet: &Fleet,
    names: &[String],
    shard: Option<Shard>,
) -> Result<Vec<Instance>, FleetError> {
    let known: Vec<String> = fleet.instances.iter().map(|i| i.name.clone()).collect();
    let unknown: Vec<String> = names
        .iter()
        .filter(|n| !known.contains(n))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(FleetError::UnknownInstances {
            file: fleet.file.clone(),
            unknown,
            known,
        });
    }
    let chosen: Vec<&Instance> = fleet
        .instances
        .iter()
        .filter(|i| names.is_empty() || names.contains(&i.name))
        .collect();
    let Some(shard) = shard else {
        return Ok(chosen.into_iter().cloned().collect());
    };
    let mut sorted: Vec<&str> = chosen.iter().map(|i| i.name.as_str()).collect();
    sorted.sort_unstable();
    Ok(chosen
        .into_iter()
        .filter(|i| {
            sorted
                .binary_search(&i.name.as_str())
                .is_ok_and(|position| shard.holds(position))
        })
        .cloned()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fleet(names: &[&str]) -> Fleet {
        Fleet {
            file: "fleet.yaml".into(),
            instances: names
                .iter()
                .enumerate()
                .map(|(i, n)| Instance {
                    name: n.to_string(),
                    vars: Vec::new(),
                    kubeconfig: None,
                    state: PathBuf::from(format!("state/{n}")),
                    line: i as u64 + 2,
                    var_at: Default::default(),
                })
                .collect(),
        }
    }

    fn names(v: &[Instance]) -> Vec<&str> {
        v.iter().map(|i| i.name.as_str()).collect()
    }

    #[test]
    fn shards_cover_every_instance_exactly_once_and_evenly() {
        let all: Vec<String> = (0..23).map(|i| format!("i{i:02}")).rev().collect();
        let f = fleet(&all.iter().map(String::as_str).collect::<Vec<_>>());
        for count in 1..=7 {
            let mut seen: Vec<String> = Vec::new();
            let mut sizes = Vec::new();
            for index in 1..=count {
                let share = pick(&f, &[], Some(Shard { index, count })).unwrap();
                sizes.push(share.len());
                seen.extend(share.into_iter().map(|i| i.name));
            }
            seen.sort();
            let mut expected = all.clone();
            expected.sort();
            assert_eq!(seen, expected, "{count} shards");
            let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(max - min <= 1, "{count} shards: {sizes:?}");
        }
    }

    #[test]
    fn a_shard_is_by_sorted_name_whatever_the_file_order() {
        let f = fleet(&["carol", "alice", "dave", "bob"]);
        let one = pick(&f, &[], Some("1/2".parse().unwrap())).unwrap();
        let two = pick(&f, &[], Some("2/2".parse().unwrap())).unwrap();
        // Sorted: alice bob carol dave; shard 1 takes alice and carol, in file order.
        assert_eq!(names(&one), ["carol", "alice"]);
        assert_eq!(names(&two), ["dave", "bob"]);
    }

    #[test]
    fn instances_by_name_then_sharded() {
        let f = fleet(&["a", "b", "c"]);
        let some = ["c".to_string(), "a".to_string()];
        assert_eq!(names(&pick(&f, &some, None).unwrap()), ["a", "c"]);
        assert_eq!(
            names(&pick(&f, &some, Some("2/2".parse().unwrap())).unwrap()),
            ["c"]
        );
        assert!(pick(&f, &[], Some("3/3".parse().unwrap())).unwrap().len() == 1);
    }

    #[test]
    fn an_unknown_instance_lists_the_known_ones() {
        let f = fleet(&["alice", "bob"]);
        let err = pick(&f, &["x".into(), "bob".into()], None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--instances: fleet.yaml has no instance x\n  help: its instances: alice, bob"
        );
    }

    #[test]
    fn shard_text() {
        assert_eq!("2/5".parse(), Ok(Shard { index: 2, count: 5 }));
        for bad in ["3/2", "0/2", "1/0", "0/0"] {
            assert!(
                matches!(bad.parse::<Shard>(), Err(ShardError::OutOfRange { .. })),
                "{bad}"
            );
        }
        for bad in ["", "1", "a/b", "1/2/3", "-1/2"] {
            assert!(
                matches!(bad.parse::<Shard>(), Err(ShardError::Shape(_))),
                "{bad}"
            );
        }
        assert_eq!(
            "3/2".parse::<Shard>().unwrap_err().to_string(),
            "`3/2`: there is no shard 3 of 2; K goes from 1 to N"
        );
    }
}
