//! Backoff schedules: retrying failed calls and polling a resource's status.

use std::future::Future;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::error::Error;

/// How often and how long to wait before sending a failed call again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (Heat's `client_retry_limit` is 2).
    pub max_retries: u32,
    /// The wait before the first retry; it doubles for each further retry.
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The wait before retry number `attempt + 1`, or `None` when retries are used up. A service's
    /// `Retry-After` wins when it asks for longer (bounded by `max_delay`). The wait is jittered
    /// between half and all of the exponential value, so clients that failed together do not
    /// come back together.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if attempt >= self.max_retries {
            return None;
        }
        let exponential = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.max_delay);
        let jittered = exponential.mul_f64(rand::thread_rng().gen_range(0.5..=1.0));
        Some(match retry_after {
            Some(wanted) => wanted.min(self.max_delay).max(jittered),
            None => jittered,
        })
    }
}

/// How to wait for a resource to reach a status: the interval grows geometrically from `first`
/// to `max_interval` (a slow resource costs few calls, a fast one is seen quickly), and the whole
/// wait never exceeds `deadline`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollPolicy {
    pub first: Duration,
    pub factor: f64,
    pub max_interval: Duration,
    pub deadline: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            first: Duration::from_millis(500),
            factor: 1.5,
            max_interval: Duration::from_secs(10),
            deadline: Duration::from_secs(3600),
        }
    }
}

impl PollPolicy {
    pub fn with_deadline(self, deadline: Duration) -> PollPolicy {
        PollPolicy { deadline, ..self }
    }

    /// The waits between checks, in order.
    pub fn intervals(&self) -> impl Iterator<Item = Duration> + '_ {
        let factor = if self.factor.is_finite() && self.factor >= 1.0 {
            self.factor
        } else {
            1.0
        };
        std::iter::successors(Some(self.first.min(self.max_interval)), move |previous| {
            Some(previous.mul_f64(factor).min(self.max_interval))
        })
    }
}

/// What one status check saw.
#[derive(Debug)]
pub enum Poll<T> {
    /// The wanted state was reached.
    Ready(T),
    /// Not yet; the current status, shown if the deadline passes.
    Pending(String),
}

/// Check `step` until it is `Ready` or fails; a failure status must be returned by `step` as an
/// error (typically [`Error::Failed`] with the service's own message), which ends the wait at once.
pub async fn poll<T, F, Fut>(
    policy: &PollPolicy,
    kind: &'static str,
    id: &str,
    mut step: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, Error>>,
{
    let started = Instant::now();
    let mut intervals = policy.intervals();
    loop {
        let status = match step().await? {
            Poll::Ready(value) => return Ok(value),
            Poll::Pending(status) => status,
        };
        let wait = intervals.next().unwrap_or(policy.max_interval);
        let elapsed = started.elapsed();
        if elapsed + wait > policy.deadline {
            return Err(Error::PollTimeout {
                kind,
                id: id.to_string(),
                status,
                secs: elapsed.as_secs(),
            });
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn retry_delays_double_and_stop() {
        let policy = RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(3),
        };
        let d0 = policy.delay(0, None).unwrap();
        assert!(d0 >= Duration::from_millis(500) && d0 <= Duration::from_secs(1));
        let d2 = policy.delay(2, None).unwrap();
        assert!(d2 >= Duration::from_millis(1500) && d2 <= Duration::from_secs(3));
        assert_eq!(policy.delay(3, None), None);
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(60))),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn poll_intervals_grow_to_the_cap() {
        let policy = PollPolicy {
            first: Duration::from_secs(1),
            factor: 2.0,
            max_interval: Duration::from_secs(5),
            deadline: Duration::from_secs(60),
        };
        let waits: Vec<u64> = policy.intervals().take(5).map(|d| d.as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 5, 5]);
    }

    #[tokio::test]
    async fn poll_stops_on_ready_failure_and_deadline() {
        let quick = PollPolicy {
            first: Duration::from_millis(1),
            factor: 2.0,
            max_interval: Duration::from_millis(4),
            deadline: Duration::from_millis(200),
        };
        let mut checks = 0;
        let ready = poll(&quick, "server", "s1", || {
            checks += 1;
            let n = checks;
            async move {
                Ok(if n < 3 {
                    Poll::Pending("BUILD".into())
                } else {
                    Poll::Ready(n)
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(ready, 3);

        let failed: Result<(), Error> = poll(&quick, "server", "s1", || async {
            Err(Error::Failed {
                kind: "server",
                id: "s1".into(),
                status: "ERROR".into(),
                message: "No valid host was found.".into(),
            })
        })
        .await;
        assert!(failed.unwrap_err().to_string().contains("No valid host"));

        let timed_out: Result<(), Error> = poll(&quick, "volume", "v1", || async {
            Ok(Poll::Pending("creating".into()))
        })
        .await;
        let error = timed_out.unwrap_err();
        assert!(
            matches!(error, Error::PollTimeout { ref status, .. } if status == "creating"),
            "{error}"
        );
    }

    proptest! {
        #[test]
        fn any_policy_gives_bounded_intervals(first in 0u64..100_000, factor in -10.0f64..10.0, cap in 1u64..100_000) {
            let policy = PollPolicy {
                first: Duration::from_millis(first),
                factor,
                max_interval: Duration::from_millis(cap),
                deadline: Duration::from_secs(1),
            };
            for wait in policy.intervals().take(50) {
                prop_assert!(wait <= Duration::from_millis(cap));
            }
        }
    }
}
