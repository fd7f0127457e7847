//! One listing per kind per run: a first look at fifteen security groups is one
//! `DescribeSecurityGroups` by the project's tag, not fifteen. The engine allows it only
//! while its walk has changed nothing (`Cx::may_read_from_listing`), so a listing never
//! hides a change the run made; waits and re-reads stay per resource.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use temporalctl_engine::ResourceError;
use tokio::sync::OnceCell;

/// One kind's items, as a `Vec` of the SDK's type for that kind.
type Listing = Arc<dyn Any + Send + Sync>;
type ByKind = HashMap<String, Arc<OnceCell<Listing>>>;

#[derive(Clone, Default)]
pub struct Listings(Arc<Mutex<ByKind>>);

impl std::fmt::Debug for Listings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<String> = self.0.lock().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        f.debug_tuple("Listings").field(&kinds).finish()
    }
}

impl Listings {
    /// Forget every listing: the next reads list again (`status --watch`'s next round).
    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Everything `list` returns for `kind`, listed once: callers that come while the
    /// call is in flight wait for it. A failed listing is not kept; the next caller lists
    /// again.
    pub async fn get<T, F, Fut>(&self, kind: &str, list: F) -> Result<Arc<Vec<T>>, ResourceError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<T>, ResourceError>>,
    {
        let cell = self.0.lock().unwrap_or_else(|e| e.into_inner()).entry(kind.to_string()).or_default().clone();
        let listing =
            cell.get_or_try_init(|| async { list().await.map(|items| Arc::new(items) as Listing) }).await?.clone();
        listing
            .downcast::<Vec<T>>()
            .map_err(|_| ResourceError::fatal(format!("the {kind} listing holds items of another type (a bug)")))
    }

    /// One resource, looked up either from the listing of its whole `family` (when
    /// `may_list`: the engine's first look) or by a describe of just it (`one`); `is_it`
    /// picks it out of either answer.
    pub async fn find<Q, T, F, Fut>(
        &self,
        may_list: bool,
        kind: &'static str,
        (family, one): (Q, Q),
        describe: F,
        is_it: impl Fn(&T) -> bool,
    ) -> Result<Option<T>, ResourceError>
    where
        Q: Copy,
        T: Clone + Send + Sync + 'static,
        F: Fn(Q) -> Fut,
        Fut: Future<Output = Result<Vec<T>, ResourceError>>,
    {
        if may_list {
            return Ok(self.get(kind, || describe(family)).await?.iter().find(|t| is_it(t)).cloned());
        }
        Ok(describe(one).await?.into_iter().find(|t| is_it(t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn one_call_per_kind_however_many_ask_at_once_and_failures_are_not_kept() {
        let listings = Listings::default();
        let calls = AtomicUsize::new(0);
        let list = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Ok(vec!["sg-1", "sg-2"])
        };
        let kind = "security group";
        let (a, b, c) = tokio::join!(listings.get(kind, list), listings.get(kind, list), listings.get(kind, list));
        assert!([a, b, c].iter().all(|got| got.as_ref().unwrap().len() == 2));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "three callers at once, one listing");

        let failing = Listings::default();
        let err =
            failing.get::<&str, _, _>("vpc", || async { Err(ResourceError::fatal("throttled")) }).await.unwrap_err();
        assert!(err.message.contains("throttled"));
        let ok = failing.get("vpc", || async { Ok(vec!["vpc-1"]) }).await.unwrap();
        assert_eq!(*ok, ["vpc-1"], "the failed listing was not kept");
    }

    #[tokio::test]
    async fn find_lists_the_family_for_a_first_look_and_describes_just_the_one_otherwise() {
        let listings = Listings::default();
        let asked = Mutex::new(Vec::new());
        let describe = |q: &'static str| {
            asked.lock().unwrap().push(q);
            async move { Ok(vec![format!("{q}/a"), format!("{q}/b")]) }
        };
        let is_b = |t: &String| t.ends_with("/b");
        let first = listings.find(true, "group", ("family", "b"), describe, is_b).await.unwrap();
        let again = listings.find(true, "group", ("family", "b"), describe, is_b).await.unwrap();
        let fresh = listings.find(false, "group", ("family", "b"), describe, is_b).await.unwrap();
        assert_eq!(
            (first.as_deref(), again.as_deref(), fresh.as_deref()),
            (Some("family/b"), Some("family/b"), Some("b/b"))
        );
        assert_eq!(*asked.lock().unwrap(), ["family", "b"], "one listing, then one describe of the one");
    }
}
