//! `--shard K/N`: run one deterministic slice of the drill files, so a large
//! suite splits across parallel CI jobs (K from 1 to N).
//!
//! The slice depends only on the drill file paths, not on timing or the
//! machine: files are sorted by path and file i (0-based) goes to shard
//! `i % N + 1`. Every file lands in exactly one shard; adding a file moves
//! at most the files after it.

use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub k: usize,
    pub n: usize,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not K/N (e.g. 2/4)"))?;
        let k: usize = k.trim().parse().map_err(|_| format!("bad K in `{s}`"))?;
        let n: usize = n.trim().parse().map_err(|_| format!("bad N in `{s}`"))?;
        if n == 0 || k == 0 || k > n {
            return Err(format!("`{s}`: need 1 <= K <= N"));
        }
        Ok(Shard { k, n })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl Shard {
    /// Keep this shard's items; `key` gives each item's path.
    pub fn select<T>(&self, items: Vec<T>, key: impl Fn(&T) -> String) -> Vec<T> {
        let mut keyed: Vec<(String, T)> = items.into_iter().map(|t| (key(&t), t)).collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.n + 1 == self.k)
            .map(|(_, (_, t))| t)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_in_exactly_one_shard() {
        let items: Vec<String> = (0..11).map(|i| format!("drills/d{i:02}.yaml")).collect();
        let mut all = Vec::new();
        for k in 1..=3 {
            let s = Shard { k, n: 3 };
            let part = s.select(items.clone(), |x| x.clone());
            assert_eq!(
                part,
                s.select(items.iter().rev().cloned().collect(), |x| x.clone())
            );
            all.extend(part);
        }
        all.sort();
        assert_eq!(all, items);
    }

    #[test]
    fn parses_k_of_n() {
        assert_eq!("2/4".parse::<Shard>().unwrap(), Shard { k: 2, n: 4 });
        assert!("0/4".parse::<Shard>().is_err());
        assert!("5/4".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }
}
