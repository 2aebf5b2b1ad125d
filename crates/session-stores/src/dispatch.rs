//! What the operator's dispatch pause and event intake keep per universe
//! ([`DispatchCatalog`]), over both stores.

use engine::SessionId;
use engine::store::StoreError;
use store_fs::FsStore;
use store_pg::PgStore;

/// An earlier delivery of the same event: when it was received, and the session
/// and run it became (absent while it is still becoming one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorDelivery {
    pub received_at_ms: u64,
    pub session_id: Option<String>,
    pub run_id: Option<String>,
}

/// The universe's dispatch pause, the sessions it must reach, and the deliveries
/// event intake has claimed.
///
/// - Postgres: `universe_dispatch` and `event_deliveries` (migration 15), whose
///   primary key makes a claim exactly-once across gateways; sessions in flight
///   and with wake-ups pending from partial indexes over counts every append keeps.
/// - Filesystem: a `dispatch_paused` file, one no-clobber file per delivery, and
///   markers of the sessions with runs in flight or wake-ups pending.
pub trait DispatchCatalog: Sync {
    /// Up to `limit` sessions with runs in flight (queued or active), in id order.
    fn sessions_in_flight(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<SessionId>, StoreError>> + Send;
    /// Up to `limit` sessions an operator's pause must reach, in id order: those
    /// with runs in flight, and open ones holding wake-ups (`wake_me_at`) that can
    /// still fire (each requests a run by itself when one falls due). One read, so
    /// a session whose wake-up fires meanwhile is in it either way.
    fn sessions_to_hold(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<SessionId>, StoreError>> + Send;
    /// When dispatch was paused, if it is.
    fn dispatch_paused_since(&self)
    -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;
    /// Pauses (`Some(at_ms)`, keeping an earlier pause's time) or resumes (`None`).
    fn set_dispatch_paused(
        &self,
        paused_at_ms: Option<u64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Claims delivery `(source, dedupe_key)` at `at_ms`: `None` when this call
    /// claimed it, else the earlier delivery received within `window_ms`.
    fn claim_delivery(
        &self,
        source: &str,
        dedupe_key: &str,
        at_ms: u64,
        window_ms: u64,
    ) -> impl Future<Output = Result<Option<PriorDelivery>, StoreError>> + Send;
    /// Records what a claimed delivery became.
    fn settle_delivery(
        &self,
        source: &str,
        dedupe_key: &str,
        session_id: &str,
        run_id: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Gives an unsettled claim up (turning it into a run failed).
    fn release_delivery(
        &self,
        source: &str,
        dedupe_key: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Forgets deliveries received before `before_ms`; how many.
    fn prune_deliveries(
        &self,
        before_ms: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

macro_rules! dispatch_catalog_for {
    ($store:ty, $prior:path) => {
        impl DispatchCatalog for $store {
            fn sessions_in_flight(
                &self,
                limit: usize,
            ) -> impl Future<Output = Result<Vec<SessionId>, StoreError>> + Send {
                <$store>::sessions_in_flight(self, limit)
            }

            fn sessions_to_hold(
                &self,
                limit: usize,
            ) -> impl Future<Output = Result<Vec<SessionId>, StoreError>> + Send {
                <$store>::sessions_to_hold(self, limit)
            }

            fn dispatch_paused_since(
                &self,
            ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send {
                <$store>::dispatch_paused_since(self)
            }

            fn set_dispatch_paused(
                &self,
                paused_at_ms: Option<u64>,
            ) -> impl Future<Output = Result<(), StoreError>> + Send {
                <$store>::set_dispatch_paused(self, paused_at_ms)
            }

            async fn claim_delivery(
                &self,
                source: &str,
                dedupe_key: &str,
                at_ms: u64,
                window_ms: u64,
            ) -> Result<Option<PriorDelivery>, StoreError> {
                let prior =
                    <$store>::claim_delivery(self, source, dedupe_key, at_ms, window_ms).await?;
                Ok(prior.map(
                    |$prior {
                         received_at_ms,
                         session_id,
                         run_id,
                     }| PriorDelivery {
                        received_at_ms,
                        session_id,
                        run_id,
                    },
                ))
            }

            async fn settle_delivery(
                &self,
                source: &str,
                dedupe_key: &str,
                session_id: &str,
                run_id: Option<&str>,
            ) -> Result<(), StoreError> {
                <$store>::settle_delivery(self, source, dedupe_key, session_id, run_id).await
            }

            async fn release_delivery(
                &self,
                source: &str,
                dedupe_key: &str,
            ) -> Result<(), StoreError> {
                <$store>::release_delivery(self, source, dedupe_key).await
            }

            fn prune_deliveries(
                &self,
                before_ms: u64,
            ) -> impl Future<Output = Result<u64, StoreError>> + Send {
                <$store>::prune_deliveries(self, before_ms)
            }
        }
    };
}

dispatch_catalog_for!(FsStore, store_fs::PriorDelivery);
dispatch_catalog_for!(PgStore, store_pg::PriorDelivery);
