// Keeps the log streams of one view in step with the kernel by message number (`seq`, see
// docs/widget-protocol.md). The view starts from the `logs` trait: each stream's tail and the
// seq of the last `log` message that tail includes. After that:
//
//   log        seq <= last: already included, ignored
//              seq == last + 1: appended
//              seq >  last + 1: a gap (the trait was behind the messages, which it may be by
//                several seconds): ignored, and the view asks for snapshots with `sync`
//   log_snapshot / log_reset  describe the whole stream as of their seq, so they are applied
//              whenever their seq is newer than the view's, gap or not; else ignored
//
// Each view counts for itself, so views drawn at different times never add the trait and the
// messages up twice. `sync` goes out once after render and then at most once per pending gap:
// while a sync waits for its answer (a snapshot per stream) a gap sends nothing more, unless
// the answer has not come for `retryMs`.

export const SYNC_RETRY_MS = 10_000;

const isSeq = (v) => Number.isInteger(v) && v >= 0;

export class LogSync {
  // `buffers`: { stream name: LogBuffer }; `send(msg)` reaches the kernel.
  constructor({ buffers, send, now = () => Date.now(), retryMs = SYNC_RETRY_MS }) {
    this.buffers = new Map(Object.entries(buffers));
    this.send = send;
    this.now = now;
    this.retryMs = retryMs;
    this.seqs = new Map(); // stream -> seq of the last message applied (0: none)
    this.awaiting = new Map(); // stream -> when a sync went out that its snapshot has not answered
  }

  lastSeq(stream) {
    return this.seqs.get(stream) ?? 0;
  }

  // At render: each stream's tail from the `logs` trait. Read only here, never on change:
  // the messages carry everything after it.
  load(logs) {
    for (const [stream, buffer] of this.buffers) {
      const entry = logs && typeof logs === "object" ? logs[stream] : null;
      if (!entry || typeof entry !== "object" || typeof entry.tail !== "string") continue;
      buffer.load(entry.tail, entry.first_line);
      this.seqs.set(stream, isSeq(entry.seq) ? entry.seq : 0);
    }
  }

  // Asks the kernel for a `log_snapshot` of every stream.
  sync() {
    const t = this.now();
    for (const stream of this.buffers.keys()) this.awaiting.set(stream, t);
    try {
      this.send({ type: "sync" });
    } catch {
      // No kernel behind the model (a notebook opened without one): the trait is all there is.
    }
  }

  // Each returns true when the message changed the stream.
  log(stream, text, seq) {
    const buffer = this.buffers.get(stream);
    if (!buffer || typeof text !== "string" || !isSeq(seq)) return false;
    const last = this.lastSeq(stream);
    if (seq <= last) return false;
    if (seq > last + 1) {
      this._gap(stream);
      return false;
    }
    this.seqs.set(stream, seq);
    buffer.append(text);
    return true;
  }

  // `tail` is text like the trait's: complete lines keep their "\n", the unfinished last has none.
  snapshot(stream, tail, firstLine, seq) {
    const buffer = this.buffers.get(stream);
    if (!buffer || typeof tail !== "string" || !isSeq(seq)) return false;
    this.awaiting.delete(stream);
    if (seq <= this.lastSeq(stream)) return false;
    this.seqs.set(stream, seq);
    buffer.load(tail, firstLine);
    return true;
  }

  reset(stream, seq) {
    const buffer = this.buffers.get(stream);
    if (!buffer || !isSeq(seq) || seq <= this.lastSeq(stream)) return false;
    this.seqs.set(stream, seq);
    buffer.clear();
    return true;
  }

  _gap(stream) {
    const sentAt = this.awaiting.get(stream);
    if (sentAt !== undefined && this.now() - sentAt < this.retryMs) return;
    this.sync();
  }
}
