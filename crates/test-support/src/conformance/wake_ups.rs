//! The wake-ups suite: which sessions a store lists for an operator's pause
//! (`DispatchCatalog::sessions_to_hold`): those holding wake-ups that can still
//! fire, counted by event kind as the log is appended, and those with runs in
//! flight; split from the other store suites (its parent module) for size.

use anyhow::ensure;
use engine::SessionId;
use engine::core::event::{RunFinished, RunRequested, SessionClosed, WakeUpEnded, WakeUpScheduled};
use engine::store::SessionLog;
use session_stores::DispatchCatalog;

use super::{entry, kind_entry, session_id, unique_prefix};

/// A store lists exactly the open sessions whose logs leave a wake-up pending and
/// the sessions with runs in flight: scheduling a wake-up lists its session,
/// ending every one (fired, dropped, cancelled) or closing the session unlists it,
/// a retried append counts nothing, a run in flight lists its session until it
/// ends, and wake-ups are no runs in flight. The store may hold other sessions;
/// only those this suite writes are checked.
pub async fn wake_ups_suite<S>(store: &S) -> anyhow::Result<()>
where
    S: SessionLog + DispatchCatalog,
{
    let prefix = unique_prefix();
    let [waiting, woken, closed, plain, busy] =
        ["waiting", "woken", "closed", "plain", "busy"].map(|name| session_id(&prefix, name));
    let (waiting, woken, closed, plain, busy) = (waiting?, woken?, closed?, plain?, busy?);
    let scheduled = |seq| kind_entry(WakeUpScheduled::KIND, seq);
    let ended = |seq| kind_entry(WakeUpEnded::KIND, seq);
    let ours = [&waiting, &woken, &closed, &plain, &busy];
    let listed = || async {
        let all = store.sessions_to_hold(100_000).await?;
        ensure!(
            all.windows(2)
                .all(|pair| pair[0].as_str() < pair[1].as_str()),
            "sessions to hold are listed in id order"
        );
        anyhow::Ok(
            all.into_iter()
                .filter(|session| ours.contains(&session))
                .collect::<Vec<SessionId>>(),
        )
    };

    store
        .append(&waiting, 0, &[scheduled(1), scheduled(2)])
        .await?;
    store.append(&woken, 0, &[scheduled(1)]).await?;
    store.append(&closed, 0, &[scheduled(1)]).await?;
    store.append(&plain, 0, &[entry(&prefix, 1)]).await?;
    ensure!(
        listed().await? == [closed.clone(), waiting.clone(), woken.clone()],
        "every session holding a wake-up is listed, none other"
    );
    // A retried append moves nothing.
    store.append(&woken, 0, &[scheduled(1)]).await?;
    store.append(&woken, 1, &[ended(2)]).await?;
    store
        .append(&closed, 1, &[kind_entry(SessionClosed::KIND, 2)])
        .await?;
    store.append(&waiting, 2, &[ended(3)]).await?;
    ensure!(
        listed().await? == [waiting.clone()],
        "a session whose wake-ups all ended, or that closed, is not listed"
    );
    store.append(&waiting, 3, &[ended(4)]).await?;
    ensure!(listed().await?.is_empty(), "no wake-up left, none listed");
    store.append(&woken, 2, &[scheduled(3)]).await?;
    ensure!(
        listed().await? == [woken.clone()],
        "a session scheduling again is listed again"
    );
    store
        .append(&busy, 0, &[kind_entry(RunRequested::KIND, 1)])
        .await?;
    ensure!(
        listed().await? == [busy.clone(), woken.clone()],
        "a session with a run in flight is listed"
    );
    store
        .append(&busy, 1, &[kind_entry(RunFinished::KIND, 2)])
        .await?;
    ensure!(
        listed().await? == [woken.clone()],
        "its run ended, it is not"
    );
    ensure!(
        !store
            .sessions_in_flight(100_000)
            .await?
            .iter()
            .any(|session| ours.contains(&session)),
        "wake-ups are not runs in flight"
    );
    Ok(())
}
