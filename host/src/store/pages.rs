//! Pages of the lists the API serves: accounts, connections, webhook
//! endpoints, deliveries, and an account's positions across its
//! connections. Each read starts at the cursor and stops once the page is
//! full, so a page costs about the same however much the store holds; none
//! reads a whole tree into memory. (One connection's positions, or all of
//! them, page with [`Store::positions_page`]; runs with
//! [`Store::runs_page`].)

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::de::DeserializeOwned;

use super::positions::{MAX_POSITIONS_PAGE, PositionFilter};
use super::webhooks::{Delivery, Webhook};
use super::{Account, Connection, Position, Store, StoreError, codec, keys};

/// The most records one page of these lists returns, whatever the caller
/// asks: a page is one response of the API.
pub const MAX_LIST_PAGE: usize = 500;

impl Store {
    /// Accounts by id: those after `after` for which `keep` holds, at most
    /// `limit` (capped at [`MAX_LIST_PAGE`]).
    pub fn accounts_page(
        &self,
        after: Option<&str>,
        limit: usize,
        keep: impl Fn(&Account) -> bool,
    ) -> Result<Vec<Account>, StoreError> {
        page_by_id(&self.trees.accounts, keys::ACCOUNTS, after, limit, keep)
    }

    /// Connections by id, as [`Store::accounts_page`].
    pub fn connections_page(
        &self,
        after: Option<&str>,
        limit: usize,
        keep: impl Fn(&Connection) -> bool,
    ) -> Result<Vec<Connection>, StoreError> {
        page_by_id(&self.trees.connections, keys::CONNECTIONS, after, limit, keep)
    }

    /// An account's webhook endpoints by id, those after `after`.
    pub fn webhooks_page(
        &self,
        account_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Webhook>, StoreError> {
        page_by_id(&self.trees.webhooks, keys::WEBHOOKS, after, limit, |w: &Webhook| w.account_id == account_id)
    }

    /// An endpoint's deliveries, newest event first: those of events before
    /// `before` (all when `None`), at most `limit` (capped).
    pub fn deliveries_page(
        &self,
        webhook_id: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let prefix = keys::connection_prefix(webhook_id);
        let tree = &self.trees.webhook_deliveries;
        let iter = match before {
            Some(event) => tree.range(prefix.clone()..keys::delivery(webhook_id, event)),
            None => tree.scan_prefix(&prefix),
        };
        iter.rev()
            .take(limit.min(MAX_LIST_PAGE))
            .map(|entry| {
                let (key, bytes) = entry?;
                let (w, e) = keys::decode_delivery(&key)?;
                codec::decode(keys::WEBHOOK_DELIVERIES, format!("{w}#{e}"), &bytes)
            })
            .collect()
    }

    /// One page of an account's positions matching `filter`, by id, across
    /// its connections: those with an id above `after`, at most `limit`
    /// (capped at [`MAX_POSITIONS_PAGE`]).
    ///
    /// Walks each connection's index from `after` in step (a merge by id),
    /// reading a position only when it is the next smallest, so the page
    /// reads about what it returns, not the account's or the store's every
    /// position.
    pub fn positions_page_of_account(
        &self,
        account_id: &str,
        filter: &PositionFilter,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Position>, StoreError> {
        let limit = limit.min(MAX_POSITIONS_PAGE);
        let start = match after {
            None => 0,
            Some(u64::MAX) => return Ok(Vec::new()),
            Some(a) => a + 1,
        };
        type Walk<'a> = Box<dyn Iterator<Item = Result<u64, StoreError>> + 'a>;
        let mut walks: Vec<Walk<'_>> = Vec::new();
        // Connections are few per account; each walk is lazy.
        for entry in self.trees.connections.iter() {
            let (key, bytes) = entry?;
            let c: Connection = codec::decode(keys::CONNECTIONS, keys::decode_id(keys::CONNECTIONS, &key)?, &bytes)?;
            if c.account_id != account_id || filter.connection_id.as_ref().is_some_and(|f| *f != c.id) {
                continue;
            }
            walks.push(Box::new(self.position_ids_from(&c.id, start)?));
        }
        // The next id of each walk, smallest first.
        let mut heads: BTreeMap<u64, usize> = BTreeMap::new();
        fn advance(walk: &mut Walk<'_>, i: usize, heads: &mut BTreeMap<u64, usize>) -> Result<(), StoreError> {
            if let Some(id) = walk.next() {
                heads.insert(id?, i);
            }
            Ok(())
        }
        for (i, walk) in walks.iter_mut().enumerate() {
            advance(walk, i, &mut heads)?;
        }
        let mut page = Vec::new();
        while page.len() < limit {
            let Some((id, i)) = heads.pop_first() else { break };
            if let Some(p) = self.position(id)?
                && p.account_id == account_id
                && filter.status.as_ref().is_none_or(|s| *s == p.status)
                && filter.published.is_none_or(|v| v == p.published)
            {
                page.push(p);
            }
            advance(&mut walks[i], i, &mut heads)?;
        }
        Ok(page)
    }
}

/// Records of a tree keyed by id, from after `after`, kept by `keep`, at
/// most `limit` (capped at [`MAX_LIST_PAGE`]).
fn page_by_id<T: DeserializeOwned>(
    tree: &sled::Tree,
    name: &'static str,
    after: Option<&str>,
    limit: usize,
    keep: impl Fn(&T) -> bool,
) -> Result<Vec<T>, StoreError> {
    let limit = limit.min(MAX_LIST_PAGE);
    let mut out = Vec::new();
    if limit == 0 {
        return Ok(out);
    }
    let start = match after {
        Some(a) => Bound::Excluded(keys::id(a).to_vec()),
        None => Bound::Unbounded,
    };
    for entry in tree.range::<Vec<u8>, _>((start, Bound::Unbounded)) {
        let (key, bytes) = entry?;
        let item: T = codec::decode(name, keys::decode_id(name, &key)?, &bytes)?;
        if keep(&item) {
            out.push(item);
            if out.len() == limit {
                break;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::store::model::{NewConnection, PositionStatus};
    use crate::store::testutil::{commit_jobs, connection, temp_store};
    use crate::store::{PositionFilter, Store};

    fn other_connection(store: &Store, account: &str, name: &str) -> String {
        if store.account(account).unwrap().is_none() {
            store.add_account(account, "UTC").unwrap();
        }
        store
            .add_connection(NewConnection {
                account_id: account.into(),
                name: name.into(),
                plugin_id: "greenhouse".into(),
                settings: vec![],
                extra_hosts: vec![],
                schedule: None,
            })
            .unwrap()
            .id
    }

    #[test]
    fn an_accounts_positions_page_merges_its_connections_by_id_and_skips_others() {
        let (_dir, store) = temp_store();
        let a = connection(&store, "A").id;
        let globex = other_connection(&store, "globex", "G");
        let b = connection(&store, "B").id;
        // Interleaved ids across acme's two connections and globex's.
        let mut acme_ids = Vec::new();
        for i in 0..4 {
            acme_ids.extend(commit_jobs(&store, &a, &[(&format!("A{i}"), "T")]).iter().map(|p| p.id));
            commit_jobs(&store, &globex, &[(&format!("G{i}"), "T")]);
            acme_ids.extend(commit_jobs(&store, &b, &[(&format!("B{i}"), "T")]).iter().map(|p| p.id));
        }
        let all = PositionFilter::default();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store.positions_page_of_account("acme", &all, after, 3).unwrap();
            if page.is_empty() {
                break;
            }
            assert!(page.iter().all(|p| p.account_id == "acme"));
            after = page.last().map(|p| p.id);
            seen.extend(page.into_iter().map(|p| p.id));
        }
        assert_eq!(seen, acme_ids, "in id order, each once, none of globex's");

        let closed = PositionFilter { status: Some(PositionStatus::Closed), ..Default::default() };
        assert!(store.positions_page_of_account("acme", &closed, None, 10).unwrap().is_empty());
        let only_b = PositionFilter { connection_id: Some(b.clone()), ..Default::default() };
        assert!(
            store.positions_page_of_account("acme", &only_b, None, 100).unwrap().iter().all(|p| p.connection_id == b)
        );
        assert!(store.positions_page_of_account("nobody", &all, None, 10).unwrap().is_empty());
        assert!(store.positions_page_of_account("acme", &all, Some(u64::MAX), 10).unwrap().is_empty());
    }

    #[test]
    fn id_lists_page_from_the_cursor_and_filter() {
        let (_dir, store) = temp_store();
        for name in ["a", "b", "c", "d"] {
            store.add_account(name, "UTC").unwrap();
        }
        let ids = |v: Vec<crate::store::Account>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
        assert_eq!(ids(store.accounts_page(None, 2, |_| true).unwrap()), ["a", "b"]);
        assert_eq!(ids(store.accounts_page(Some("b"), 2, |_| true).unwrap()), ["c", "d"]);
        assert_eq!(ids(store.accounts_page(Some("a"), 10, |a| a.id != "c").unwrap()), ["b", "d"]);
        assert!(store.accounts_page(Some("d"), 10, |_| true).unwrap().is_empty());
        assert!(store.accounts_page(None, 0, |_| true).unwrap().is_empty());
        other_connection(&store, "a", "x");
        other_connection(&store, "b", "y");
        let page = store.connections_page(None, 10, |c| c.account_id == "b").unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].account_id, "b");
    }
}
