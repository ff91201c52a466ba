//! The parallel dependency-graph runner: every node whose prerequisites have completed runs at
//! once (up to a limit); a failure stops new work and lets running work finish; a timeout or a
//! cancel also tells running work to stop waiting.

use crate::model::{Action, CancelMode};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Why a node failed.
#[derive(Debug, Clone, PartialEq)]
pub struct StepFailure {
    /// The resource action that failed; `None` for failures of the stack as a whole.
    pub action: Option<Action>,
    /// `<ExcType>: resources.<name>: <message>`, or a stack-level message.
    pub reason: String,
}

impl StepFailure {
    pub fn resource(action: Action, reason: String) -> Self {
        StepFailure {
            action: Some(action),
            reason,
        }
    }
    pub fn stack(reason: String) -> Self {
        StepFailure {
            action: None,
            reason,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum GraphOutcome {
    Complete,
    /// The first failure.
    Failed(StepFailure),
    TimedOut,
    Cancelled(CancelMode),
}

impl GraphOutcome {
    /// The stack's status reason for this outcome of `action`, in Heat's wording.
    pub fn reason(&self, action: Action) -> String {
        match self {
            GraphOutcome::Complete => format!("Stack {action} completed successfully"),
            GraphOutcome::Failed(StepFailure {
                action: Some(a),
                reason,
            }) => format!("Resource {a} failed: {reason}"),
            GraphOutcome::Failed(StepFailure {
                action: None,
                reason,
            }) => reason.clone(),
            GraphOutcome::TimedOut => "Timed out".to_string(),
            GraphOutcome::Cancelled(_) => format!("Stack {action} cancelled"),
        }
    }
}

/// Something the runner can tell to stop waiting.
pub(crate) trait Stoppable: Send + Sync + 'static {
    fn stop(&self);
}

impl Stoppable for crate::engine::Run {
    fn stop(&self) {
        crate::engine::Run::stop(self)
    }
}

/// Runs `op` for every node after its prerequisites (`prereqs[node]`, restricted to `nodes`).
pub(crate) async fn run_graph<C, F, Fut>(
    context: Arc<C>,
    nodes: Vec<String>,
    prereqs: HashMap<String, Vec<String>>,
    limit: usize,
    deadline: tokio::time::Instant,
    mut cancel: watch::Receiver<Option<CancelMode>>,
    op: F,
) -> GraphOutcome
where
    C: Stoppable,
    F: Fn(Arc<C>, String) -> Fut,
    Fut: Future<Output = Result<(), StepFailure>> + Send + 'static,
{
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut waiting = vec![0usize; nodes.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        let mut seen = std::collections::HashSet::new();
        for p in prereqs.get(node).into_iter().flatten() {
            if let Some(&j) = index.get(p.as_str()) {
                if j != i && seen.insert(j) {
                    waiting[i] += 1;
                    dependents[j].push(i);
                }
            }
        }
    }
    let mut ready: VecDeque<usize> = (0..nodes.len()).filter(|i| waiting[*i] == 0).collect();
    let mut running: JoinSet<(usize, Result<(), StepFailure>)> = JoinSet::new();
    let mut done = 0usize;
    let mut failure: Option<StepFailure> = None;
    let mut stopped: Option<GraphOutcome> = None;
    let mut cancel_closed = false;
    let limit = limit.max(1);
    loop {
        while failure.is_none() && stopped.is_none() && running.len() < limit {
            let Some(i) = ready.pop_front() else { break };
            // Boxed so that spawning moves a pointer, not the whole step's state machine.
            let fut = Box::pin(op(context.clone(), nodes[i].clone()));
            running.spawn(async move { (i, fut.await) });
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            joined = running.join_next() => {
                match joined {
                    Some(Ok((i, Ok(())))) => {
                        done += 1;
                        for &d in &dependents[i] {
                            waiting[d] -= 1;
                            if waiting[d] == 0 {
                                ready.push_back(d);
                            }
                        }
                    }
                    Some(Ok((_, Err(e)))) => {
                        failure.get_or_insert(e);
                    }
                    Some(Err(join)) => {
                        failure.get_or_insert(StepFailure::stack(format!("internal error: {join}")));
                    }
                    None => {}
                }
            }
            _ = tokio::time::sleep_until(deadline), if stopped.is_none() => {
                stopped = Some(GraphOutcome::TimedOut);
                context.stop();
            }
            changed = cancel.changed(), if stopped.is_none() && !cancel_closed => {
                match changed {
                    Ok(()) => {
                        if let Some(mode) = *cancel.borrow() {
                            stopped = Some(GraphOutcome::Cancelled(mode));
                            context.stop();
                        }
                    }
                    // The sender is gone: nobody can cancel any more; keep running.
                    Err(_) => cancel_closed = true,
                }
            }
        }
    }
    if let Some(outcome) = stopped {
        return outcome;
    }
    if let Some(f) = failure {
        return GraphOutcome::Failed(f);
    }
    if done < nodes.len() {
        let stuck: Vec<&str> = (0..nodes.len())
            .filter(|i| waiting[*i] > 0)
            .map(|i| nodes[i].as_str())
            .collect();
        return GraphOutcome::Failed(StepFailure::stack(format!(
            "Circular Dependency Found: {}",
            stuck.join(", ")
        )));
    }
    GraphOutcome::Complete
}
