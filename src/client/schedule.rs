//! Keeps one identity's requests inside the service's limits: at most N queries in flight (the
//! service runs 5 per user and queues the rest), at most R requests in any window of T seconds
//! (200 per 30 s per user), and, after a 429, a pause that every request waits out, not only the
//! one that was throttled.
//!
//! Every HTTP attempt, retries included, takes a slot: first a place among the N in flight, then
//! a place in the window. The order matters: a request that took its place in the window and
//! then waited for a free slot would be sent later than the window believes.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// At most `requests` requests in any window of `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub per: Duration,
}

impl RateLimit {
    /// The service's documented limit per user: 200 queries per 30 seconds.
    pub const SERVICE: RateLimit = RateLimit {
        requests: 200,
        per: Duration::from_secs(30),
    };

    /// The window the client keeps: `per` plus 1% and 10 ms, so that requests the network
    /// delays unevenly still arrive inside the service's window.
    fn window(self) -> Duration {
        self.per + self.per / 100 + Duration::from_millis(10)
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::SERVICE
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.requests, self.per.as_secs_f64())
    }
}

impl FromStr for RateLimit {
    type Err = String;

    /// `REQUESTS/SECONDS`, e.g. `200/30` or `20/1.5`.
    fn from_str(text: &str) -> Result<RateLimit, String> {
        let bad = || {
            format!(
                "`{text}` is not a rate limit: give REQUESTS/SECONDS, such as 200/30 (the service's limit)"
            )
        };
        let (requests, seconds) = text.trim().split_once('/').ok_or_else(bad)?;
        let requests: u32 = requests.trim().parse().map_err(|_| bad())?;
        let seconds: f64 = seconds.trim().parse().map_err(|_| bad())?;
        if requests == 0 || !seconds.is_finite() || seconds <= 0.0 || seconds > 3600.0 {
            return Err(format!(
                "`{text}`: the number of requests must be at least 1 and the window between 0 and 3600 seconds"
            ));
        }
        Ok(RateLimit {
            requests,
            per: Duration::from_secs_f64(seconds),
        })
    }
}

/// The gate every request of one identity passes through.
#[derive(Debug)]
pub struct Scheduler {
    in_flight: Semaphore,
    limit: RateLimit,
    window: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    /// When each request of the current window was sent, oldest first.
    sent: VecDeque<Instant>,
    /// No request is sent before this moment (set by a 429).
    paused_until: Option<Instant>,
}

/// The right to send one request; dropping it frees the place among those in flight.
#[derive(Debug)]
pub struct Slot<'a> {
    _permit: SemaphorePermit<'a>,
}

impl Scheduler {
    pub fn new(concurrency: usize, limit: RateLimit) -> Scheduler {
        Scheduler {
            in_flight: Semaphore::new(concurrency.max(1)),
            limit,
            window: Mutex::new(Window::default()),
        }
    }

    /// Waits for a place among the requests in flight, then for room in the rate window and the
    /// end of any pause, and records the request as sent now.
    pub async fn slot(&self) -> Slot<'_> {
        let permit = self
            .in_flight
            .acquire()
            .await
            .expect("the scheduler's semaphore is never closed");
        loop {
            let wait_until = self.try_send(Instant::now());
            match wait_until {
                None => return Slot { _permit: permit },
                Some(moment) => tokio::time::sleep_until(moment).await,
            }
        }
    }

    /// Records a send at `now` if the window and any pause allow it; otherwise says until when
    /// to wait.
    fn try_send(&self, now: Instant) -> Option<Instant> {
        let mut window = self
            .window
            .lock()
            .expect("the rate window lock is never poisoned");
        if let Some(until) = window.paused_until {
            if until > now {
                return Some(until);
            }
            window.paused_until = None;
        }
        let span = self.limit.window();
        while window
            .sent
            .front()
            .is_some_and(|sent| now.duration_since(*sent) >= span)
        {
            window.sent.pop_front();
        }
        if window.sent.len() < self.limit.requests as usize {
            window.sent.push_back(now);
            return None;
        }
        window.sent.front().map(|oldest| *oldest + span)
    }

    /// Holds back every request for `delay`, after the service asked to wait (429).
    pub fn pause(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut window = self
            .window
            .lock()
            .expect("the rate window lock is never poisoned");
        if window.paused_until.is_none_or(|current| current < until) {
            window.paused_until = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn rate_limits_parse_and_refuse_nonsense() {
        assert_eq!("200/30".parse::<RateLimit>().unwrap(), RateLimit::SERVICE);
        assert_eq!(
            " 20 / 1.5 ".parse::<RateLimit>().unwrap(),
            RateLimit {
                requests: 20,
                per: Duration::from_millis(1500)
            }
        );
        for bad in [
            "200", "0/30", "10/0", "10/-1", "x/30", "10/y", "10/inf", "10/7200",
        ] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
        let message = "fast".parse::<RateLimit>().unwrap_err();
        assert!(
            message.contains("`fast`") && message.contains("200/30"),
            "{message}"
        );
    }

    /// Sends `count` requests through the scheduler, each holding its slot for `hold`, and
    /// returns the moments they were let through, relative to the start.
    async fn send_times(scheduler: Arc<Scheduler>, count: usize, hold: Duration) -> Vec<Duration> {
        let start = Instant::now();
        let tasks: Vec<_> = (0..count)
            .map(|_| {
                let scheduler = scheduler.clone();
                tokio::spawn(async move {
                    let _slot = scheduler.slot().await;
                    let sent = start.elapsed();
                    tokio::time::sleep(hold).await;
                    sent
                })
            })
            .collect();
        let mut times = Vec::new();
        for task in tasks {
            times.push(task.await.unwrap());
        }
        times.sort();
        times
    }

    #[tokio::test(start_paused = true)]
    async fn no_window_ever_holds_more_than_the_limit() {
        let limit = RateLimit {
            requests: 20,
            per: Duration::from_secs(3),
        };
        let times = send_times(Arc::new(Scheduler::new(5, limit)), 50, Duration::ZERO).await;
        // Any 21 consecutive sends span at least the window.
        for pair in times.windows(21) {
            assert!(pair[20] - pair[0] >= limit.per, "{pair:?}");
        }
        // And the limiter does not wait longer than it must: 50 requests need three windows.
        assert!(*times.last().unwrap() < Duration::from_secs(7), "{times:?}");
        assert_eq!(times[19], Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn at_most_n_requests_are_in_flight() {
        let scheduler = Arc::new(Scheduler::new(5, RateLimit::SERVICE));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..23)
            .map(|_| {
                let (scheduler, running, most) = (scheduler.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    let _slot = scheduler.slot().await;
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        let start = Instant::now();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 5);
        // 23 requests of 200 ms, 5 at a time: five rounds.
        assert_eq!(start.elapsed(), Duration::from_millis(1000));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_back_every_request() {
        let scheduler = Arc::new(Scheduler::new(5, RateLimit::SERVICE));
        drop(scheduler.slot().await);
        scheduler.pause(Duration::from_secs(2));
        // A shorter pause asked later does not shorten the first.
        scheduler.pause(Duration::from_secs(1));
        let times = send_times(scheduler, 3, Duration::ZERO).await;
        assert!(
            times.iter().all(|t| *t == Duration::from_secs(2)),
            "{times:?}"
        );
    }
}
