// The node's API from the page: JSON-RPC over HTTP POST to the page's own origin, and
// subscriptions over one WebSocket to the same origin that reconnects by itself.

/** An error the node answered with (JSON-RPC `error`). */
export class RpcError extends Error {
  constructor(error) {
    super(error.message);
    this.code = error.code;
    this.data = error.data;
  }
}

/** The node did not answer (down, unreachable, or not an accord node). */
export class Unreachable extends Error {}

let nextId = 1;

async function post(body) {
  let response;
  try {
    response = await fetch('/', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch (e) {
    throw new Unreachable(`the node at ${location.host} does not answer (${e.message})`);
  }
  if (!response.ok && response.status !== 200) {
    let detail = '';
    try {
      detail = (await response.json()).error?.message || '';
    } catch { /* not JSON */ }
    throw new Unreachable(`the node at ${location.host} answered HTTP ${response.status} ${detail}`.trim());
  }
  return response.json();
}

/** One call; its result, or an RpcError. */
export async function call(method, params = []) {
  const answer = await post({ jsonrpc: '2.0', id: nextId++, method, params });
  if (answer.error) throw new RpcError(answer.error);
  return answer.result;
}

/** Several calls in one request (a JSON-RPC batch); each result, or an RpcError in its place. */
export async function batch(calls) {
  if (calls.length === 0) return [];
  const first = nextId;
  nextId += calls.length;
  const answers = await post(calls.map(([method, params], i) => ({ jsonrpc: '2.0', id: first + i, method, params })));
  const byId = new Map(answers.map((a) => [a.id, a]));
  return calls.map((_, i) => {
    const a = byId.get(first + i);
    return a && !a.error ? a.result : new RpcError(a ? a.error : { code: 0, message: 'no answer' });
  });
}

/**
 * One WebSocket with its subscriptions. `onState('live' | 'connecting' | 'down')`
 * reports the connection; after a drop every subscription is made again (with the
 * parameters its `params()` gives then, so event streams resume from their last cursor).
 */
export class Live {
  constructor(onState) {
    this.onState = onState;
    this.subs = new Set();
    this.pending = new Map();
    this.byId = new Map();
    this.delay = 500;
    this.connect();
  }

  connect() {
    this.onState('connecting');
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`);
    this.ws = ws;
    ws.onopen = () => {
      this.delay = 500;
      this.onState('live');
      for (const sub of this.subs) this.send(sub);
    };
    ws.onmessage = (message) => this.receive(JSON.parse(message.data));
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.byId.clear();
      this.pending.clear();
      this.onState('down');
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 10000);
    };
  }

  send(sub) {
    const id = nextId++;
    this.pending.set(id, sub);
    this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method: sub.method, params: sub.params() }));
  }

  receive(msg) {
    if (msg.id !== undefined && this.pending.has(msg.id)) {
      const sub = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error) {
        sub.onError(new RpcError(msg.error));
      } else if (this.subs.has(sub)) {
        sub.id = msg.result;
        this.byId.set(String(msg.result), sub);
      } else {
        this.ws.send(JSON.stringify({ jsonrpc: '2.0', id: nextId++, method: sub.unsubscribe, params: [msg.result] }));
      }
      return;
    }
    const sub = msg.params && this.byId.get(String(msg.params.subscription));
    if (!sub) return;
    if (msg.params.error) {
      // Closed by the node (a subscriber that fell behind): subscribe again from where it was.
      this.byId.delete(String(msg.params.subscription));
      sub.onError(new RpcError(msg.params.error));
      if (this.subs.has(sub) && this.ws.readyState === WebSocket.OPEN) this.send(sub);
      return;
    }
    sub.onItem(msg.params.result);
  }

  /** Subscribes; returns a function that ends the subscription. */
  subscribe(method, unsubscribe, params, onItem, onError = () => {}) {
    const sub = { method, unsubscribe, params, onItem, onError, id: null };
    this.subs.add(sub);
    if (this.ws.readyState === WebSocket.OPEN) this.send(sub);
    return () => {
      this.subs.delete(sub);
      if (sub.id !== null && this.ws.readyState === WebSocket.OPEN) {
        this.byId.delete(String(sub.id));
        this.ws.send(JSON.stringify({ jsonrpc: '2.0', id: nextId++, method: unsubscribe, params: [sub.id] }));
      }
    };
  }
}
