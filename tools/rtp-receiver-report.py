#!/usr/bin/env python3
"""What a receiver would say of ivory's outgoing RTP, from a capture's packets.

Input: lines of `capture_time_s src_port dst_port rtp_seq` (tshark fields). Per stream:
- interval: time between consecutive packets; the target is 20 ms +- 2 ms at the 99th percentile;
- dropped: sequence numbers that never arrived (gaps, 16-bit wrap handled);
- late: packets that arrived more than one frame (20 ms) after their place on the stream's
  20 ms grid, the grid anchored at the stream's earliest packet (a one-frame jitter buffer
  would have had to conceal them).
Prints `key: value` lines that tools/bench-report reads.
"""
import collections
import sys

FRAME_S = 0.020

streams = collections.defaultdict(list)
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) != 4:
        continue
    try:
        streams[(parts[1], parts[2])].append((float(parts[0]), int(parts[3])))
    except ValueError:
        continue

deltas, lateness = [], []
dropped = late = packets = 0
for packets_of_stream in streams.values():
    packets_of_stream.sort()
    packets += len(packets_of_stream)
    times = [t for t, _ in packets_of_stream]
    deltas += [(b - a) * 1000 for a, b in zip(times, times[1:])]
    # Unwrap the 16-bit sequence numbers into a running index.
    index, previous, indices = 0, None, []
    for _, seq in packets_of_stream:
        if previous is not None:
            step = (seq - previous) % 65536
            index += step if step < 32768 else step - 65536
        indices.append(index)
        previous = seq
    expected = max(indices) - min(indices) + 1
    dropped += max(0, expected - len(set(indices)))
    anchor = min(t - i * FRAME_S for (t, _), i in zip(packets_of_stream, indices))
    for (t, _), i in zip(packets_of_stream, indices):
        behind = t - (anchor + i * FRAME_S)
        lateness.append(behind * 1000)
        late += behind > FRAME_S

if not deltas:
    sys.exit("rtp-receiver-report: no RTP in the capture")
deltas.sort()
deviation = sorted(abs(d - 20) for d in deltas)
lateness.sort()
q = lambda values, p: values[min(len(values) - 1, int(p * len(values)))]
within = sum(1 for d in deviation if d <= 2) / len(deviation)
print(f"streams captured: {len(streams)}")
print(f"packets captured: {packets}")
print(f"interval p1/p50/p99 ms: {q(deltas, .01):.2f} / {q(deltas, .5):.2f} / {q(deltas, .99):.2f}")
print(f"pacing p99 |interval - 20 ms| ms: {q(deviation, .99):.2f}")
print(f"pacing max |interval - 20 ms| ms: {deviation[-1]:.2f}")
print(f"intervals within 20 +- 2 ms %: {100 * within:.2f}")
print(f"behind the 20 ms grid p99/max ms: {q(lateness, .99):.2f} / {lateness[-1]:.2f}")
print(f"late packets (> 20 ms behind): {late}")
print(f"dropped packets (sequence gaps): {dropped}")
