//! A validated schedule: which node waits for which, checked once for unknown indices and
//! cycles, and stored the other way round (who waits for me) for the run.
//!
//! It knows nothing of time or workers; [`super::run`] walks it.

use super::Error;

/// Nodes `0..n` and, for each, the nodes it waits for.
///
/// Built with [`Schedule::new`], which rejects a dependency on an index out of range and
/// any cycle (a node waiting for itself included), so a run always ends. Duplicate entries
/// in a dependency list are allowed and mean the same as one.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// `waits[i]`: how many entries node `i`'s dependency list has.
    waits: Vec<usize>,
    /// The dependents of node `d` are `dependents[starts[d]..starts[d + 1]]`, ascending.
    starts: Vec<usize>,
    dependents: Vec<usize>,
}

impl Schedule {
    /// Checks `deps` (`deps[i]` = the nodes `i` waits for) in O(nodes + edges).
    pub fn new(deps: Vec<Vec<usize>>) -> Result<Self, Error> {
        let len = deps.len();
        let mut starts = vec![0; len + 1];
        for (node, list) in deps.iter().enumerate() {
            for &dependency in list {
                if dependency >= len {
                    return Err(Error::UnknownDependency {
                        node,
                        dependency,
                        len,
                    });
                }
                starts[dependency + 1] += 1;
            }
        }
        for i in 0..len {
            starts[i + 1] += starts[i];
        }
        let mut next = starts.clone();
        let mut dependents = vec![0; starts[len]];
        for (node, list) in deps.iter().enumerate() {
            for &dependency in list {
                dependents[next[dependency]] = node;
                next[dependency] += 1;
            }
        }
        let schedule = Schedule {
            waits: deps.iter().map(Vec::len).collect(),
            starts,
            dependents,
        };
        match schedule.stuck_nodes() {
            None => Ok(schedule),
            Some(stuck) => Err(Error::Cycle {
                cycle: find_cycle(&deps, &stuck),
            }),
        }
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.waits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waits.is_empty()
    }

    /// `waits()[i]`: how many entries node `i`'s dependency list has.
    pub(super) fn waits(&self) -> &[usize] {
        &self.waits
    }

    /// The nodes that wait for `node`, ascending (repeated if they listed it twice).
    pub(super) fn dependents(&self, node: usize) -> &[usize] {
        &self.dependents[self.starts[node]..self.starts[node + 1]]
    }

    /// Kahn's algorithm: `None` if every node can be reached by finishing its
    /// dependencies first, otherwise a flag per node that never can.
    fn stuck_nodes(&self) -> Option<Vec<bool>> {
        let mut waiting = self.waits.clone();
        let mut ready: Vec<usize> = (0..self.len()).filter(|&i| waiting[i] == 0).collect();
        let mut done = 0;
        while let Some(node) = ready.pop() {
            done += 1;
            for &dependent in self.dependents(node) {
                waiting[dependent] -= 1;
                if waiting[dependent] == 0 {
                    ready.push(dependent);
                }
            }
        }
        (done < self.len()).then(|| waiting.iter().map(|&w| w > 0).collect())
    }
}

/// Every stuck node waits for at least one other stuck node, so following such waits from
/// any stuck node must come back to a node already on the path: that loop is a cycle.
fn find_cycle(deps: &[Vec<usize>], stuck: &[bool]) -> Vec<usize> {
    let mut position = vec![usize::MAX; deps.len()];
    let mut path = Vec::new();
    let mut node = stuck.iter().position(|&s| s).expect("a stuck node");
    while position[node] == usize::MAX {
        position[node] = path.len();
        path.push(node);
        node = *deps[node]
            .iter()
            .find(|&&d| stuck[d])
            .expect("a stuck node waits for a stuck node");
    }
    let mut cycle = path.split_off(position[node]);
    let smallest = (0..cycle.len()).min_by_key(|&k| cycle[k]).unwrap_or(0);
    cycle.rotate_left(smallest);
    cycle
}
