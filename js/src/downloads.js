// Click-to-download through the kernel: request an output, collect `download_chunk` buffers
// in arrival order (the comm keeps order), then save one Blob through an object URL.
// Every chunk is acknowledged (`download_ack`): the kernel keeps only a few MB in flight and
// waits for acks, so without them a download stalls. A download this side gives up on (user
// cancel, bad chunk, no data for a while, view closed) is canceled in the kernel too.

const REVOKE_DELAY_MS = 10_000;
const IDLE_TIMEOUT_MS = 120_000;

let counter = 0;
function newRequestId() {
  const rand = globalThis.crypto?.randomUUID?.() ?? Math.random().toString(36).slice(2);
  counter += 1;
  return `srw-${counter}-${rand}`;
}

export function toBytes(buffer) {
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  if (ArrayBuffer.isView(buffer)) return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  return null;
}

export function saveBlob(blob, filename, container = document.body) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.rel = "noopener";
  a.style.display = "none";
  container.append(a);
  a.click();
  a.remove();
  return url;
}

const isCount = (v) => Number.isInteger(v) && v >= 0;

// Per output name: { status: "pending" | "receiving" | "done" | "error" | "canceled", received,
// size, error }.
// Only requests made by this instance are handled, so a model shown in two views saves once.
export class Downloads {
  constructor({
    send,
    onChange = () => {},
    container = null,
    save = saveBlob,
    revokeDelayMs = REVOKE_DELAY_MS,
    idleTimeoutMs = IDLE_TIMEOUT_MS,
    request = (name, id) => ({ type: "download", output: name, request_id: id }),
  }) {
    this.request = request;
    this.send = send;
    this.onChange = onChange;
    this.container = container;
    this.save = save;
    this.revokeDelayMs = revokeDelayMs;
    this.idleTimeoutMs = idleTimeoutMs;
    this.requests = new Map();
    this.byName = new Map();
    this.timers = new Set();
  }

  state(name) {
    return this.byName.get(name) ?? null;
  }

  busy(name) {
    const s = this.byName.get(name)?.status;
    return s === "pending" || s === "receiving";
  }

  start(name) {
    if (this.busy(name)) return null;
    const id = newRequestId();
    const req = {
      id,
      name,
      filename: name,
      mime: "application/octet-stream",
      size: null,
      received: 0,
      chunks: [],
      status: "pending",
      error: "",
      idle: null,
    };
    this.requests.set(id, req);
    this.byName.set(name, req);
    this._touch(req);
    this.send(this.request(name, id));
    this.onChange(name);
    return id;
  }

  // Stops a running download of `name`; its later messages are ignored. Returns true if one ran.
  cancel(name) {
    if (!this.busy(name)) return false;
    const req = this.byName.get(name);
    this._close(req);
    req.chunks = [];
    req.status = "canceled";
    this._sendCancel(req);
    this.onChange(name);
    return true;
  }

  // Returns true when the message belonged to a request of this instance.
  handle(msg, buffers) {
    const req = this.requests.get(msg?.request_id);
    if (!req) return false;
    this._touch(req);
    switch (msg.type) {
      case "download_start":
        req.status = "receiving";
        if (typeof msg.filename === "string" && msg.filename) req.filename = msg.filename;
        if (typeof msg.mime === "string" && msg.mime) req.mime = msg.mime;
        req.size = isCount(msg.size) ? msg.size : null;
        break;
      case "download_chunk": {
        const bytes = toBytes(buffers?.[0]);
        if (!bytes) {
          this._fail(req, "Download failed: a chunk arrived without data");
          this._sendCancel(req);
          break;
        }
        req.status = "receiving";
        req.chunks.push(bytes);
        req.received += bytes.byteLength;
        this.send({ type: "download_ack", request_id: req.id, received: req.received });
        break;
      }
      case "download_end":
        this._finish(req, msg);
        break;
      case "download_error":
        this._fail(req, typeof msg.message === "string" && msg.message ? msg.message : "Download failed");
        break;
      default:
        return false;
    }
    this.onChange(req.name);
    return true;
  }

  dispose() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const req of this.requests.values()) {
      clearTimeout(req.idle);
      this._sendCancel(req); // nobody is left to save it
    }
    for (const url of this.urls ?? []) URL.revokeObjectURL(url);
    this.requests.clear();
  }

  _touch(req) {
    clearTimeout(req.idle);
    req.idle = setTimeout(() => {
      if (!this.requests.has(req.id)) return;
      this._fail(req, "Download stopped: no data from the kernel");
      this._sendCancel(req);
      this.onChange(req.name);
    }, this.idleTimeoutMs);
  }

  _finish(req, msg) {
    if (isCount(msg.bytes) && msg.bytes !== req.received) {
      this._fail(req, `Download incomplete: received ${req.received} of ${msg.bytes} bytes`);
      return;
    }
    const blob = new Blob(req.chunks, { type: req.mime });
    req.chunks = [];
    this._close(req);
    req.status = "done";
    req.size = req.received;
    const url = this.save(blob, req.filename, this.container ?? document.body, req.name);
    if (typeof url === "string") {
      this.urls ??= new Set();
      this.urls.add(url);
      const t = setTimeout(() => {
        URL.revokeObjectURL(url);
        this.urls.delete(url);
        this.timers.delete(t);
      }, this.revokeDelayMs);
      this.timers.add(t);
    }
  }

  _fail(req, message) {
    req.chunks = [];
    req.status = "error";
    req.error = String(message);
    this._close(req);
  }

  _close(req) {
    clearTimeout(req.idle);
    this.requests.delete(req.id);
  }

  _sendCancel(req) {
    try {
      this.send({ type: "download_cancel", request_id: req.id });
    } catch {
      // No kernel to tell.
    }
  }
}
