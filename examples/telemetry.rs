//! A telemetry dispatcher: one sensor thread writes frames, many dispatcher
//! threads read them, on a `PhaseFair` lock. Neither side starves.
//!
//! The readers overlap continuously, which is exactly the load under which a
//! reader-preferring lock keeps a writer out forever. Under `PhaseFair` a
//! waiting writer stops new readers, gets the lock after the current read
//! phase, and then every reader that queued meanwhile enters together. The
//! example prints the progress of both sides while it runs and checks that
//! every reader saw whole frames (never half-written ones).
//!
//! Run with `cargo run --release --example telemetry`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rwlocker::{PhaseFair, RwLock};

const CHANNELS: usize = 256;
const READERS: usize = 6;
const FRAMES: u64 = 200;

/// A frame whose channels all carry the frame's sequence number, so a torn
/// read (part old frame, part new) is detectable.
struct Frame {
    seq: u64,
    channels: [u64; CHANNELS],
}

fn main() {
    let frame = RwLock::<Frame, PhaseFair>::new(Frame { seq: 0, channels: [0; CHANNELS] });
    let written = AtomicU64::new(0);
    let sensor_max_wait_us = AtomicU64::new(0);
    let reader_max_wait_us = AtomicU64::new(0);
    let reads: Vec<AtomicU64> = (0..READERS).map(|_| AtomicU64::new(0)).collect();
    let sensor_done = AtomicBool::new(false);
    let started = Instant::now();

    thread::scope(|s| {
        // The sensor: FRAMES updates, each a full rewrite under the write lock.
        s.spawn(|| {
            for seq in 1..=FRAMES {
                {
                    let t = Instant::now();
                    let mut f = frame.write();
                    sensor_max_wait_us.fetch_max(t.elapsed().as_micros() as u64, Ordering::Relaxed);
                    f.seq = seq;
                    f.channels.iter_mut().for_each(|c| *c = seq);
                }
                written.store(seq, Ordering::Relaxed);
                // The sensor's sampling interval.
                thread::sleep(Duration::from_micros(500));
            }
            sensor_done.store(true, Ordering::Release);
        });

        // The dispatchers: copy the frame under the read lock, "send" it outside.
        for count in &reads {
            let (frame, sensor_done, reader_max_wait_us) = (&frame, &sensor_done, &reader_max_wait_us);
            s.spawn(move || {
                let mut last_seq = 0;
                // Each reader keeps going until the sensor is done, then reads once more.
                loop {
                    let done = sensor_done.load(Ordering::Acquire);
                    let (seq, sum) = {
                        let t = Instant::now();
                        let f = frame.read();
                        reader_max_wait_us.fetch_max(t.elapsed().as_micros() as u64, Ordering::Relaxed);
                        (f.seq, f.channels.iter().sum::<u64>())
                    };
                    assert_eq!(sum, seq * CHANNELS as u64, "torn frame");
                    assert!(seq >= last_seq, "frames went backwards");
                    if !done {
                        count.fetch_add(1, Ordering::Relaxed); // reads while the sensor runs
                    }
                    last_seq = seq;
                    if done {
                        assert_eq!(seq, FRAMES, "a reader after the sensor finished sees the last frame");
                        break;
                    }
                }
            });
        }

        // Progress, a few times a second, until the sensor is done.
        s.spawn(|| {
            let mut next = Duration::from_millis(100);
            while !sensor_done.load(Ordering::Acquire) {
                if started.elapsed() >= next {
                    let r: Vec<u64> = reads.iter().map(|c| c.load(Ordering::Relaxed)).collect();
                    println!(
                        "{:>5} ms  sensor: {:>3}/{FRAMES} frames  readers: {:?}",
                        next.as_millis(),
                        written.load(Ordering::Relaxed),
                        r
                    );
                    next += Duration::from_millis(100);
                }
                thread::sleep(Duration::from_millis(5));
            }
        });
    });

    let r: Vec<u64> = reads.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let total: u64 = r.iter().sum();
    println!(
        "done in {} ms: sensor wrote {FRAMES} frames; readers read {total} frames while it ran {r:?}",
        started.elapsed().as_millis()
    );
    println!(
        "longest wait for the lock: sensor {} us, readers {} us (wall clock on a shared machine; not asserted)",
        sensor_max_wait_us.load(Ordering::Relaxed),
        reader_max_wait_us.load(Ordering::Relaxed)
    );
    assert_eq!(written.load(Ordering::Relaxed), FRAMES, "the writer finished despite continuous readers");
    assert!(r.iter().all(|&n| n > 0), "every reader made progress while the sensor wrote");
    println!("OK: writer wrote {FRAMES} frames and all {READERS} readers made progress (no starvation)");
}
