// The explorer: hash-routed views over the node's API.
//   #/                                   head, recent blocks (live), validators by region
//   #/proposals?kind=&status=&region=    proposals, filtered
//   #/proposal/ID                        tally per region, timeline, event proofs verified here
//   #/block/H                            header, certificate, transactions and receipts
//   #/delivery?region=&kind=&from=&to=&bucket=
//                                        delivery (DORA) figures of a period, by region and kind

import { call, batch, Live, RpcError, Unreachable } from './rpc.js';
import {
  verifyEventProof, validatorSet, describe, ProofError, hash, toHex, fromHex,
} from './verify.js';
import { blake3 } from './blake3.js';

const KINDS = ['pipeline_action', 'infrastructure_change', 'documentation_change', 'roadmap_change', 'governance_change'];
const STATUSES = ['voting', 'approved', 'queued', 'executing', 'succeeded', 'rejected', 'vetoed', 'expired',
  'cancelled', 'failed', 'rolling_back', 'rolled_back', 'emergency_executed', 'ratified', 'unratified'];
const RECENT = 15;
const GRID = 10;
/** Event proofs asked for in one JSON-RPC batch. */
const PROOF_BATCH = 25;

// ---- DOM helpers (text only: nothing the node sends is parsed as HTML) ----

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  return append(node, children);
}

/** Appends children (nested arrays flattened; null, undefined and false skipped; the rest as text). */
function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const short = (hex) => (hex && hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : hex);
const hashText = (hex) => el('code', { title: hex }, short(hex));
const time = (ms) => new Date(ms).toLocaleString();
const words = (snake) => String(snake).replaceAll('_', ' ');
const statusName = (s) => (s.status === 'executing' ? `executing phase ${s.phase + 1}` : words(s.status));
const badge = (text, cls = '') => el('span', { class: `badge ${cls}` }, text);
const percent = (fraction) => `${(Number(fraction) * 100).toFixed(1)} %`;

function showError(message) {
  const banner = document.getElementById('error');
  banner.textContent = message;
  banner.hidden = !message;
}

function explain(error) {
  if (error instanceof Unreachable) return `Node unreachable: ${error.message}`;
  if (error instanceof RpcError) return `The node refused the request (${error.code}): ${error.message}`;
  return `Error: ${error.message}`;
}

// ---- what every view shares ----

const app = {
  chainId: null,
  names: new Map(), // validator key -> {name, region}
  sets: new Map(), // height -> Promise of the validator set deciding it
  blockListeners: new Set(),
  cleanup: [],
  live: null,
};

/** The validator set deciding `height`, as the node reports it (one call per height). */
function setAt(height) {
  if (!app.sets.has(height)) {
    const fetched = call('chain_getValidators', [height]).then((view) => {
      for (const r of view.regions) for (const v of r.validators) app.names.set(v.key, { name: v.name, region: r.region });
      return validatorSet(view);
    });
    fetched.catch(() => app.sets.delete(height));
    app.sets.set(height, fetched);
  }
  return app.sets.get(height);
}

const nameOf = (key) => app.names.get(key)?.name || short(key);

function setHead(height) {
  document.getElementById('head-height').textContent = height;
}

// ---- #/ : the chain ----

async function chainView(view) {
  const [status, validators] = await Promise.all([call('chain_getStatus'), call('chain_getValidators')]);
  for (const r of validators.regions) for (const v of r.validators) app.names.set(v.key, { name: v.name, region: r.region });
  setHead(status.height);
  const from = Math.max(1, status.height - RECENT + 1);
  const heights = [];
  for (let h = status.height; h >= from; h--) heights.push(h);
  const [blocks, certificates] = await Promise.all([
    status.height > 0 ? call('chain_getBlockRange', [from, status.height]) : [],
    batch(heights.map((h) => ['chain_getCertificate', [h]])),
  ]);
  const signersAt = new Map();
  heights.forEach((h, i) => {
    const c = certificates[i];
    if (c && !(c instanceof Error)) signersAt.set(h, new Set(c.signatures.map((s) => s.validator)));
  });

  const head = el('section', { class: 'card head', id: 'head' });
  const renderHead = (s) => head.replaceChildren(
    el('h2', {}, 'Head'),
    el('dl', {},
      el('dt', {}, 'height'), el('dd', { id: 'head-card-height' }, el('a', { href: `#/block/${s.height}` }, s.height)),
      el('dt', {}, 'hash'), el('dd', {}, hashText(s.hash)),
      el('dt', {}, 'time'), el('dd', {}, time(s.timestamp)),
      el('dt', {}, 'round'), el('dd', {}, s.round ?? '–'),
      el('dt', {}, 'chain'), el('dd', {}, s.chain_id || app.chainId),
      s.peers !== undefined && [el('dt', {}, 'peers'), el('dd', {}, s.peers)],
      el('dt', {}, 'state'), el('dd', {}, s.halted ? badge('halted', 'bad') : s.syncing ? badge('syncing', 'warn') : badge('deciding', 'good')),
    ));
  renderHead(status);

  // Validators by region, with who signed the last certificates.
  const grid = el('section', { class: 'card', id: 'validators' });
  const renderGrid = () => {
    const cols = [...signersAt.keys()].sort((a, b) => b - a).slice(0, GRID);
    grid.replaceChildren(
      el('h2', {}, 'Validators by region'),
      el('p', { class: 'muted' }, `Set deciding height ${validators.height}: ${validators.total_power} power, `,
        `${validators.rule} quorum rule. ✓ marks a signature in the commit certificate of that height.`),
      ...validators.regions.map((r) => el('div', { class: 'region', dataset: { region: r.region } },
        el('h3', {}, `${r.region} `, el('span', { class: 'muted' }, `${r.validators.length} validators · power ${r.power}`)),
        el('table', { class: 'signers' },
          el('thead', {}, el('tr', {}, el('th', {}, 'validator'), el('th', {}, 'key'), el('th', {}, 'power'),
            cols.map((h) => el('th', { class: 'num' }, el('a', { href: `#/block/${h}` }, h))))),
          el('tbody', {}, r.validators.map((v) => el('tr', { dataset: { validator: v.name } },
            el('td', {}, v.name), el('td', {}, hashText(v.key)), el('td', { class: 'num' }, v.power),
            cols.map((h) => (signersAt.get(h).has(v.key)
              ? el('td', { class: 'signed', title: `signed ${h}` }, '✓')
              : el('td', { class: 'absent', title: `absent from ${h}` }, '·'))))))))),
    );
  };
  renderGrid();

  // Recent blocks, newest first.
  const rows = el('tbody');
  const row = (b) => el('tr', { dataset: { height: b.height } },
    el('td', {}, el('a', { href: `#/block/${b.height}` }, b.height)),
    el('td', {}, hashText(b.hash)),
    el('td', {}, time(b.timestamp)),
    el('td', {}, nameOf(b.proposer)),
    el('td', { class: 'num' }, b.transactions),
    el('td', { class: 'num' }, b.signers ?? '–'));
  for (const b of [...blocks].reverse()) {
    rows.append(row({
      height: b.block.header.height, hash: b.hash, timestamp: b.block.header.timestamp,
      proposer: b.block.header.proposer, transactions: b.block.transactions.length,
      signers: signersAt.get(b.block.header.height)?.size,
    }));
  }
  const recent = el('section', { class: 'card wide' }, el('h2', {}, 'Recent blocks ', el('span', { class: 'muted' }, '(live)')),
    el('table', { id: 'blocks' }, el('thead', {}, el('tr', {}, ['height', 'hash', 'time', 'proposer', 'txs', 'signers'].map((t) => el('th', {}, t)))), rows));

  view.replaceChildren(el('div', { class: 'grid' }, head, recent, grid));

  const onBlock = (b) => {
    const h = b.header.height;
    if (rows.querySelector(`tr[data-height="${h}"]`)) return;
    rows.prepend(row({ height: h, hash: b.hash, timestamp: b.header.timestamp, proposer: b.header.proposer, transactions: b.transactions, signers: b.signers.length }));
    while (rows.children.length > RECENT) rows.lastChild.remove();
    signersAt.set(h, new Set(b.signers));
    for (const old of [...signersAt.keys()].sort((x, y) => y - x).slice(GRID)) signersAt.delete(old);
    renderHead({ height: h, hash: b.hash, timestamp: b.header.timestamp, round: b.round, chain_id: b.header.chain_id, halted: false, syncing: false });
    renderGrid();
  };
  app.blockListeners.add(onBlock);
  return () => app.blockListeners.delete(onBlock);
}

// ---- #/proposals ----

async function proposalsView(view, query) {
  const filter = {};
  for (const key of ['kind', 'status', 'region']) if (query.get(key)) filter[key] = query.get(key);
  const validators = await call('chain_getValidators');
  const regions = validators.regions.map((r) => r.region);
  if (filter.region && !regions.includes(filter.region)) regions.push(filter.region);

  const select = (name, options) => el('select', { name, id: `filter-${name}`, onchange: go },
    el('option', { value: '' }, `any ${name}`),
    options.map((o) => el('option', { value: o, selected: filter[name] === o }, words(o))));
  function go() {
    const params = new URLSearchParams();
    for (const name of ['kind', 'status', 'region']) {
      const value = document.getElementById(`filter-${name}`).value;
      if (value) params.set(name, value);
    }
    location.hash = `#/proposals${params.toString() ? `?${params}` : ''}`;
  }
  const form = el('form', { class: 'filters', onsubmit: (e) => e.preventDefault() },
    select('kind', KINDS), select('status', STATUSES), select('region', regions));

  const rows = el('tbody');
  const table = el('table', { id: 'proposal-list' },
    el('thead', {}, el('tr', {}, ['id', 'title', 'kind', 'tier', 'status', 'regions', 'submitted', 'voting ends'].map((t) => el('th', {}, t)))), rows);
  const more = el('button', { type: 'button', hidden: true }, 'more');
  const summary = el('p', { class: 'muted', id: 'proposal-count' });
  view.replaceChildren(el('section', { class: 'card wide' }, el('h2', {}, 'Proposals'), form, summary, table, more));

  let after = null;
  let count = 0;
  const load = async () => {
    const page = await call('gov_listProposals', [Object.keys(filter).length ? filter : null, after, 50]);
    const drafts = await batch(page.proposals.map((p) => ['gov_getProposal', [p.id]]));
    page.proposals.forEach((p, i) => {
      const title = drafts[i] && !(drafts[i] instanceof Error) ? drafts[i].draft.title : '';
      rows.append(el('tr', { dataset: { id: p.id, kind: p.kind, status: p.status.status } },
        el('td', {}, el('a', { href: `#/proposal/${p.id}` }, `#${p.id}`)),
        el('td', {}, el('a', { href: `#/proposal/${p.id}` }, title)),
        el('td', {}, words(p.kind)), el('td', {}, p.tier),
        el('td', {}, badge(statusName(p.status), `status-${p.status.status}`)),
        el('td', {}, p.regions.join(', ')),
        el('td', {}, el('a', { href: `#/block/${p.submitted_at}` }, p.submitted_at)),
        el('td', {}, p.voting_ends)));
    });
    count += page.proposals.length;
    summary.textContent = `${count} proposal${count === 1 ? '' : 's'}${Object.keys(filter).length ? ' matching ' + Object.entries(filter).map(([k, v]) => `${k} = ${words(v)}`).join(', ') : ''}${page.next !== null ? ' (more below)' : ''}.`;
    after = page.next;
    more.hidden = page.next === null;
  };
  more.addEventListener('click', () => load().catch((e) => showError(explain(e))));
  await load();
}

// ---- #/proposal/ID ----

function eventText(e, state) {
  const phase = (p) => `phase ${p + 1}${state ? ` of ${state.phases}` : ''}`;
  switch (e.type) {
    case 'proposal_submitted':
      return `Submitted: ${words(e.kind)}, ${e.tier} tier, regions ${e.regions.join(', ')}; voting until height ${e.voting_ends}`;
    case 'vote_cast': return `Vote ${e.choice} in ${e.region} by ${short(e.voter)}`;
    case 'status_changed': return `Status → ${statusName(e.status)}${e.reason ? ` (${e.reason})` : ''}`;
    case 'execution_requested': return `Phase ${phase(e.phase).slice(6)} requested in ${e.region}`;
    case 'execution_claimed': return `Phase ${phase(e.phase).slice(6)} claimed in ${e.region} by agent ${short(e.agent)}, lease until height ${e.lease_expires}`;
    case 'execution_reported':
      return `Receipt: ${phase(e.phase)} in ${e.region} ${words(e.outcome.type)}${e.outcome.reason ? ` (${e.outcome.reason})` : ''}, agent ${short(e.agent)}`;
    case 'rollback_requested': return `Rollback requested in ${e.region}`;
    case 'governance_changed': return 'Governance changed';
    case 'validator_set_change_scheduled': return `Validator-set change from height ${e.effective_height}`;
    default: return words(e.type);
  }
}

function bar(label, value, mark, reached, id) {
  const fill = el('div', { class: `fill ${reached ? 'good' : ''}` });
  fill.style.width = `${Math.min(100, Number(value) * 100)}%`;
  const marker = el('div', { class: 'mark', title: `${label} needed: ${percent(mark)}` });
  marker.style.left = `${Math.min(100, Number(mark) * 100)}%`;
  return el('div', { class: 'meter', dataset: { meter: id } },
    el('div', { class: 'meter-label' }, `${label} ${percent(value)} / ${percent(mark)} `, reached ? badge('reached', 'good') : badge('not reached', 'warn')),
    el('div', { class: 'track' }, fill, marker));
}

function tallyCard(r) {
  return el('div', { class: 'tally card', dataset: { region: r.region } },
    el('h3', {}, r.region, ' ', r.vetoed ? badge('vetoed', 'bad') : r.quorum_reached && r.threshold_reached ? badge('passing', 'good') : badge('short', 'warn')),
    el('p', { class: 'votes' }, `yes ${r.tally.yes} · no ${r.tally.no} · abstain ${r.tally.abstain} · veto ${r.tally.veto} of ${r.voters} voters`),
    bar('turnout', r.turnout, r.quorum, r.quorum_reached, 'quorum'),
    bar('approval', r.approval, r.threshold, r.threshold_reached, 'threshold'),
    el('p', { class: 'muted' }, r.votes_missing_for_quorum ? `${r.votes_missing_for_quorum} more votes for quorum. ` : '',
      r.yes_missing_for_threshold ? `${r.yes_missing_for_threshold} more yes for the threshold. ` : '',
      `Veto ${percent(r.veto)} / ${percent(r.veto_threshold)}.`));
}

async function proposalView(view, id) {
  if (!/^\d+$/.test(id)) throw new Error(`${id} is not a proposal id`);
  const proposal = await call('gov_getProposal', [Number(id)]);
  if (!proposal) {
    view.replaceChildren(el('section', { class: 'card wide', id: 'not-found' }, el('h2', {}, `No proposal ${id}`),
      el('p', {}, `Chain ${app.chainId} has no proposal ${id}. `, el('a', { href: '#/proposals' }, 'All proposals'))));
    return undefined;
  }
  const summary = el('section', { class: 'card wide', id: 'proposal' });
  const tallies = el('div', { class: 'tallies', id: 'tallies' });
  const timeline = el('ol', { class: 'timeline', id: 'timeline' });
  const proofSummary = el('p', { id: 'proof-summary', class: 'proof-summary' }, 'Verifying event proofs…');

  const renderSummary = (p) => {
    const s = p.state;
    summary.replaceChildren(
      el('h2', {}, `#${s.id} ${p.draft.title} `, badge(statusName(s.status), `status-${s.status.status}`)),
      el('p', {}, p.draft.description),
      el('dl', {},
        el('dt', {}, 'kind'), el('dd', {}, words(s.kind)),
        el('dt', {}, 'tier'), el('dd', {}, `${s.tier} (quorum ${percent(s.thresholds.quorum)}, approval ${percent(s.thresholds.approval_threshold)}, veto ${percent(s.thresholds.veto_threshold)})`),
        el('dt', {}, 'regions'), el('dd', {}, s.regions.join(', ')),
        el('dt', {}, 'submitted'), el('dd', {}, el('a', { href: `#/block/${s.submitted_at}` }, `height ${s.submitted_at}`)),
        el('dt', {}, 'voting ends'), el('dd', {}, `height ${s.voting_ends}`),
        s.approved_at !== null && [el('dt', {}, 'approved'), el('dd', {}, el('a', { href: `#/block/${s.approved_at}` }, `height ${s.approved_at}`))],
        el('dt', {}, 'phases'), el('dd', {}, s.phases),
        el('dt', {}, 'payload digest'), el('dd', {}, hashText(s.payload_digest)),
        el('dt', {}, 'author'), el('dd', {}, hashText(s.author)),
        el('dt', {}, 'now'), el('dd', {}, s.reason)));
  };
  const renderTally = (t) => tallies.replaceChildren(
    el('p', { class: 'muted' }, t.passing ? 'Every region has reached its quorum and threshold with no veto.' : 'Not every region has reached its quorum and threshold.'),
    ...t.regions.map(tallyCard));

  renderSummary(proposal);
  renderTally(await call('gov_getTally', [Number(id)]));
  view.replaceChildren(summary,
    el('section', { class: 'card wide' }, el('h2', {}, 'Tally by region'), tallies),
    el('section', { class: 'card wide' }, el('h2', {}, 'Timeline'),
      el('p', { class: 'muted' }, `Each event is checked here: its receipt is hashed and its Merkle path walked to the block header's receipts root, `,
        `the header hashed, and the commit certificate's ed25519 signatures checked to reach the quorum of the validator set. `,
        `Trusted: chain ${app.chainId} and the validator set this node reports for each height (chain_getValidators).`),
      proofSummary, timeline));

  const results = { ok: 0, failed: 0, last: null };
  const renderProofSummary = () => {
    const total = timeline.children.length;
    const pending = total - results.ok - results.failed;
    proofSummary.className = `proof-summary ${results.failed ? 'bad' : pending ? '' : 'good'}`;
    proofSummary.textContent = results.failed
      ? `${results.failed} of ${total} event proofs failed`
      : pending ? `Verifying event proofs… ${results.ok} of ${total}`
        : `${total} of ${total} event proofs ${results.last ? describe(results.last) : 'verified ✓'}`;
  };

  let queue = Promise.resolve();
  // `proof`: the event's proof fetched already (a promise of it, or of an RpcError
  // when its call in a batch was refused, which is then made again alone).
  const verify = (item, ev, proof) => {
    const mark = item.querySelector('.proof');
    const details = item.querySelector('details');
    queue = queue.then(async () => {
      try {
        const given = await proof;
        const p = given && !(given instanceof RpcError) ? given : await call('gov_getEventProof', [ev.cursor]);
        const set = await setAt(p.header.height);
        const r = await verifyEventProof(p, app.chainId, set);
        if (JSON.stringify(r.event) !== JSON.stringify(ev.event)) throw new ProofError('event', 'the proven event differs from the listed one');
        mark.textContent = describe(r);
        mark.dataset.state = 'verified';
        details.append(el('ul', {},
          el('li', {}, 'receipt hash ', hashText(r.receiptHash), ` (receipt ${p.path.index} of ${p.path.leaf_count}, ${p.path.siblings.length} siblings)`),
          el('li', {}, 'receipts root ', hashText(p.header.receipts_root)),
          el('li', {}, 'block ', el('a', { href: `#/block/${p.header.height}` }, p.header.height), ' hash ', hashText(r.blockHash)),
          el('li', {}, `signed by ${p.certificate.signatures.map((s) => nameOf(s.validator)).join(', ')}: power ${r.signedPower} of ${r.totalPower} (${r.rule} rule)`)));
        results.ok += 1;
        results.last = r;
      } catch (e) {
        mark.textContent = e instanceof ProofError ? `✗ not verified: ${e.check}: ${e.message}` : `✗ not verified: ${explain(e)}`;
        mark.dataset.state = 'failed';
        results.failed += 1;
      }
      renderProofSummary();
    });
  };

  let lastCursor = null;
  const addEvent = (ev, state) => {
    lastCursor = ev.cursor;
    const height = ev.cursor.split(':')[0];
    const item = el('li', { dataset: { type: ev.event.type, cursor: ev.cursor } },
      el('span', { class: 'at' }, el('a', { href: `#/block/${height}` }, height)),
      el('span', { class: `what ${ev.event.type}` }, eventText(ev.event, state)),
      el('details', {}, el('summary', {}, el('span', { class: 'proof', dataset: { state: 'pending' } }, 'verifying…'))));
    timeline.append(item);
    return item;
  };

  // The stored events, then live ones from the last cursor on.
  let after = null;
  for (let pages = 0; pages < 100; pages++) {
    const page = await call('gov_getEvents', [{ proposals: [Number(id)] }, after, 1000]);
    // Their proofs in JSON-RPC batches (PROOF_BATCH calls each, under the node's
    // default batch limit of 50), each verified as its batch arrives.
    const items = page.events.map((ev) => [addEvent(ev, proposal.state), ev]);
    for (let i = 0; i < items.length; i += PROOF_BATCH) {
      const chunk = items.slice(i, i + PROOF_BATCH);
      const proofs = batch(chunk.map(([, ev]) => ['gov_getEventProof', [ev.cursor]]))
        .catch(() => chunk.map(() => null));
      chunk.forEach(([item, ev], k) => verify(item, ev, proofs.then((all) => all[k])));
    }
    after = page.next;
    if (page.complete || page.next === null) break;
  }
  renderProofSummary();

  let refresh = null;
  return app.live.subscribe('gov_subscribeEvents', 'gov_unsubscribeEvents',
    () => [{ proposals: [Number(id)] }, lastCursor ?? after],
    (ev) => {
      if (timeline.querySelector(`li[data-cursor="${ev.cursor}"]`)) return;
      verify(addEvent(ev, proposal.state), ev);
      renderProofSummary();
      clearTimeout(refresh);
      refresh = setTimeout(async () => {
        try {
          const [p, t] = await Promise.all([call('gov_getProposal', [Number(id)]), call('gov_getTally', [Number(id)])]);
          renderSummary(p);
          renderTally(t);
        } catch (e) { showError(explain(e)); }
      }, 200);
    },
    (e) => showError(`The event stream closed: ${e.message}; resuming.`));
}

// ---- #/block/H ----

async function blockView(view, height) {
  if (!/^\d+$/.test(height)) throw new Error(`${height} is not a height`);
  const h = Number(height);
  const [block, certificate, receipts] = await batch([
    ['chain_getBlock', [h]], ['chain_getCertificate', [h]], ['chain_getReceipts', [h]]]);
  for (const answer of [block, certificate, receipts]) if (answer instanceof Error) throw answer;
  if (!block) {
    view.replaceChildren(el('section', { class: 'card wide', id: 'not-found' }, el('h2', {}, `No block ${h}`),
      el('p', {}, `Block ${h} is not finalized on this node. `, el('a', { href: '#/' }, 'The chain'))));
    return;
  }
  const set = await setAt(h);
  const hd = block.block.header;
  const signers = new Set((certificate?.signatures || []).map((s) => s.validator));
  view.replaceChildren(
    el('section', { class: 'card wide', id: 'block' },
      el('h2', {}, `Block ${h} `, h > 1 ? el('a', { href: `#/block/${h - 1}`, class: 'small' }, '← previous') : '', ' ',
        el('a', { href: `#/block/${h + 1}`, class: 'small' }, 'next →')),
      el('dl', {},
        el('dt', {}, 'hash'), el('dd', {}, el('code', {}, block.hash)),
        el('dt', {}, 'time'), el('dd', {}, time(hd.timestamp)),
        el('dt', {}, 'proposer'), el('dd', {}, nameOf(hd.proposer)),
        ['parent_hash', 'transactions_root', 'receipts_root', 'state_root', 'evidence_root', 'validator_set_hash', 'last_commit_hash']
          .map((f) => [el('dt', {}, words(f)), el('dd', {}, el('code', {}, hd[f]))]))),
    el('section', { class: 'card wide', id: 'certificate' }, el('h2', {}, 'Commit certificate'),
      certificate
        ? el('p', {}, `Round ${certificate.round}: ${certificate.signatures.length} of ${set.validators.length} validators signed.`)
        : el('p', { class: 'muted' }, 'No certificate stored.'),
      el('ul', { class: 'signer-list' }, set.validators.map((v) => el('li', { class: signers.has(v.key) ? 'signed' : 'absent' },
        `${signers.has(v.key) ? '✓' : '·'} ${v.name} (${v.region}, power ${v.power})`)))),
    el('section', { class: 'card wide', id: 'receipts' }, el('h2', {}, `Transactions and receipts (${receipts.length})`),
      receipts.length === 0 ? el('p', { class: 'muted' }, 'None.') : el('ol', { class: 'receipts', start: 0 },
        receipts.map((r) => {
          const tx = block.block.transactions[r.index];
          return el('li', {},
            tx ? el('div', {}, el('strong', {}, words(tx.payload.action)), ` by ${short(tx.signer)}, nonce ${tx.nonce}`) : el('div', {}, el('strong', {}, 'end of block')),
            el('div', {}, r.receipt.outcome.result === 'success' ? badge('success', 'good') : badge(`failed: ${r.receipt.outcome.code}`, 'bad'),
              r.receipt.outcome.message ? ` ${r.receipt.outcome.message}` : ''),
            el('ul', {}, r.receipt.events.map((e) => el('li', {},
              e.proposal !== undefined ? [el('a', { href: `#/proposal/${e.proposal}` }, `#${e.proposal}`), ' '] : '', eventText(e)))));
        }))));
}

// ---- #/delivery ----

const DAY_MS = 86400000;
const BUCKETS = ['total', 'day', 'week'];
const SVG = 'http://www.w3.org/2000/svg';

/** An SVG element (attributes only: the policy allows no inline style). */
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) if (value !== undefined && value !== null) node.setAttribute(key, value);
  return append(node, children);
}

/** Seconds as the two largest units, such as "2 h 5 min" or "45 s"; '–' for none. */
function duration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const s = Number(seconds);
  if (s < 10) return `${Math.round(s * 10) / 10} s`;
  const total = Math.round(s);
  if (total < 60) return `${total} s`;
  if (total < 3600) return `${Math.floor(total / 60)} min${total % 60 ? ` ${total % 60} s` : ''}`;
  const minutes = Math.round(total / 60);
  if (minutes < 1440) return `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
  const hours = Math.round(total / 3600);
  return `${Math.floor(hours / 24)} d${hours % 24 ? ` ${hours % 24} h` : ''}`;
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
const perDay = (x) => (x >= 10 ? Number(x).toFixed(1) : String(Number(Number(x).toPrecision(2))));
const utcDay = (text) => Date.parse(`${text}T00:00:00Z`);
const dayText = (ms) => new Date(ms).toISOString().slice(0, 10);

/** A figure as the node gave it, for `data-value` ('' for none). */
const valueData = (value) => ({ value: value === null ? '' : String(value) });

/** The four figures of the period, each with its value in `data-value` as the node gave it. */
function deliverySummary(t, answer) {
  const figure = (id, title, value, shown, ...notes) => el('div', { class: 'figure', dataset: { figure: id } },
    el('h3', {}, title),
    el('strong', { class: 'value', dataset: valueData(value) }, shown),
    notes.map((n) => el('p', { class: 'muted' }, n)));
  return el('div', { class: 'figures' },
    figure('deployments', 'Deployments', t.deployments, t.deployments,
      [el('span', { class: 'per-day', dataset: valueData(t.deployments_per_day) }, `${perDay(t.deployments_per_day)} per day`),
        ` over ${plural(answer.days, 'day', 'days')}`]),
    figure('lead-time', 'Lead time', t.lead_time_mean_seconds, duration(t.lead_time_mean_seconds),
      'mean, submission to deployment',
      el('span', { class: 'max', dataset: valueData(t.lead_time_max_seconds) },
        `max ${duration(t.lead_time_max_seconds)}`)),
    figure('change-failure-rate', 'Change failure rate', t.change_failure_rate,
      t.change_failure_rate === null ? '–' : percent(t.change_failure_rate),
      t.executed ? `${t.failed} of ${plural(t.executed, 'execution', 'executions')} failed or rolled back` : 'nothing executed'),
    figure('time-to-restore', 'Time to restore', t.time_to_restore_mean_seconds, duration(t.time_to_restore_mean_seconds),
      t.restores ? `mean of ${plural(t.restores, 'restore', 'restores')}` : 'no failure restored',
      el('span', { class: 'max', dataset: valueData(t.time_to_restore_max_seconds) },
        `max ${duration(t.time_to_restore_max_seconds)}`)));
}

/** Deployments per bucket of the period, stacked by region: every bucket, empty ones too. */
function deliveryChart(answer, regions) {
  const step = answer.bucket === 'week' ? 7 : 1;
  const first = utcDay(answer.from);
  const last = utcDay(answer.to);
  const starts = [];
  for (let d = first; d <= last; d += step * DAY_MS) starts.push(dayText(d));
  const counts = new Map(starts.map((s) => [s, new Map()]));
  for (const s of answer.series) {
    for (const b of s.buckets) {
      const at = counts.get(b.from);
      if (at) at.set(s.region, (at.get(s.region) || 0) + b.deployments);
    }
  }
  const totals = starts.map((s) => [...counts.get(s).values()].reduce((a, b) => a + b, 0));
  const top = Math.max(1, ...totals);
  const [width, height, left, right, topPad, bottom] = [800, 170, 34, 8, 10, 24];
  const plot = { w: width - left - right, h: height - topPad - bottom };
  const slot = plot.w / starts.length;
  const barWidth = Math.max(1, slot * 0.72);
  const y = (n) => topPad + plot.h - (n / top) * plot.h;
  const ticks = top >= 2 ? [0, Math.round(top / 2), top] : [0, top];
  const every = Math.ceil(starts.length / 8);
  const label = (s) => (answer.bucket === 'week' ? `from ${s.slice(5)}` : s.slice(5));
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'bars', role: 'img',
    'aria-label': `deployments per ${answer.bucket}, ${answer.from} to ${answer.to}` },
  ticks.map((n) => [
    svg('line', { class: 'grid-line', x1: left, x2: width - right, y1: y(n), y2: y(n) }),
    svg('text', { class: 'axis', x: left - 6, y: y(n) + 4, 'text-anchor': 'end' }, n)]),
  starts.map((s, i) => {
    const x = left + i * slot + (slot - barWidth) / 2;
    let base = 0;
    const parts = regions.filter((r) => counts.get(s).get(r)).map((r) => {
      const n = counts.get(s).get(r);
      const rect = svg('rect', { class: `bar r${regions.indexOf(r) % 6}`, x, width: barWidth, y: y(base + n), height: y(base) - y(base + n) },
        svg('title', {}, `${s}${step > 1 ? ` to ${dayText(Math.min(utcDay(s) + 6 * DAY_MS, last))}` : ''}: ${r} ${n}`));
      base += n;
      return rect;
    });
    return svg('g', { class: 'bucket', 'data-from': s, 'data-deployments': totals[i] },
      parts,
      i % every === 0
        ? svg('text', { class: 'axis', x: left + i * slot + slot / 2, y: height - 6, 'text-anchor': 'middle' }, label(s)) : null);
  }));
  return el('div', { class: 'chart', id: 'delivery-chart' },
    el('h3', {}, `Deployments per ${answer.bucket}`),
    chart,
    el('p', { class: 'legend muted' }, regions.map((r, i) => el('span', {}, el('span', { class: `swatch r${i % 6}` }), ` ${r}`)),
      ` ${plural(totals.reduce((a, b) => a + b, 0), 'deployment', 'deployments')} in ${starts.length} `,
      answer.bucket === 'week' ? 'weeks from the first day (the last one cut at the period\'s end)' : 'UTC days'));
}

async function deliveryView(view, query) {
  const filter = {};
  for (const key of ['region', 'kind', 'from', 'to']) if (query.get(key)) filter[key] = query.get(key);
  const bucket = query.get('bucket') || 'total';
  const validators = await call('chain_getValidators');
  const regions = validators.regions.map((r) => r.region);
  if (filter.region && !regions.includes(filter.region)) regions.push(filter.region);
  const kinds = KINDS.filter((k) => k !== 'governance_change');
  if (filter.kind && !kinds.includes(filter.kind)) kinds.push(filter.kind);

  const select = (name, options, any) => el('select', { name, id: `delivery-${name}`, onchange: go },
    any && el('option', { value: '' }, any),
    options.map((o) => el('option', { value: o, selected: (name === 'bucket' ? bucket : filter[name]) === o }, words(o))));
  const date = (name) => el('label', {}, `${name} `, el('input', { type: 'date', name, id: `delivery-${name}`, value: filter[name], onchange: go }));
  function go() {
    const params = new URLSearchParams();
    const value = (name) => document.getElementById(`delivery-${name}`).value;
    for (const name of ['region', 'kind']) if (value(name)) params.set(name, value(name));
    // The period is sent when it was asked for or changed; otherwise it follows the head.
    const dates = ['from', 'to'].map((name) => document.getElementById(`delivery-${name}`));
    const changed = dates.some((input) => input.value !== (input.dataset.default ?? ''));
    if (filter.from || filter.to || changed) for (const input of dates) if (input.value) params.set(input.name, input.value);
    if (value('bucket') !== 'total') params.set('bucket', value('bucket'));
    location.hash = `#/delivery${params.toString() ? `?${params}` : ''}`;
  }
  const form = el('form', { class: 'filters', id: 'delivery-filters', onsubmit: (e) => e.preventDefault() },
    select('region', regions, 'every region'), select('kind', kinds, 'every kind'), date('from'), date('to'),
    el('label', {}, 'per ', select('bucket', BUCKETS)),
    el('a', { href: '#/delivery', class: 'small' }, 'reset'));
  const results = el('div', { id: 'delivery-results' }, el('p', { class: 'muted' }, 'Loading…'));
  view.replaceChildren(el('section', { class: 'card wide', id: 'delivery' },
    el('h2', {}, 'Delivery'),
    el('p', { class: 'muted' }, 'DORA figures from finalized blocks: deployments (a proposal\'s last phase succeeded in a region), ',
      'lead time (submission to deployment), change failure rate (failed ÷ executed) and time to restore (a failure to the next ',
      'deployment of the same target there), timed by the blocks\' timestamps and filed under their UTC day.'),
    form, results));

  let answer;
  try {
    answer = await call('gov_getDeliveryMetrics', [filter, bucket]);
  } catch (error) {
    if (!(error instanceof RpcError)) throw error;
    results.replaceChildren(el('p', { class: 'error inline', id: 'delivery-error', role: 'alert' }, explain(error)));
    return;
  }
  for (const name of ['from', 'to']) {
    const input = document.getElementById(`delivery-${name}`);
    if (!filter[name]) input.dataset.default = answer[name];
    input.value = answer[name];
  }

  const t = answer.total;
  const seriesRegions = [...new Set(answer.series.map((s) => s.region))].sort();
  const scope = [filter.region ? `region ${filter.region}` : 'every region', filter.kind ? words(filter.kind) : 'every kind'].join(', ');
  const row = (s) => el('tr', { dataset: { region: s.region, kind: s.kind } },
    el('td', {}, s.region), el('td', {}, words(s.kind)),
    el('td', { class: 'num' }, s.total.deployments), el('td', { class: 'num' }, perDay(s.total.deployments_per_day)),
    el('td', { class: 'num' }, s.total.executed), el('td', { class: 'num' }, s.total.failed),
    el('td', { class: 'num' }, s.total.change_failure_rate === null ? '–' : percent(s.total.change_failure_rate)),
    el('td', { class: 'num' }, duration(s.total.lead_time_mean_seconds)), el('td', { class: 'num' }, duration(s.total.lead_time_max_seconds)),
    el('td', { class: 'num' }, s.total.restores),
    el('td', { class: 'num' }, duration(s.total.time_to_restore_mean_seconds)), el('td', { class: 'num' }, duration(s.total.time_to_restore_max_seconds)));
  results.replaceChildren(
    el('div', { id: 'delivery-summary', dataset: { region: filter.region || '', kind: filter.kind || '', bucket: answer.bucket, from: answer.from, to: answer.to, height: answer.height } },
      el('p', { id: 'delivery-period' }, el('strong', {}, `${answer.from} to ${answer.to}`),
        ` (${answer.days} UTC day${answer.days === 1 ? '' : 's'}${filter.from || filter.to ? '' : ', ending on the head block\'s day'}), ${scope}; blocks up to `,
        el('a', { href: `#/block/${answer.height}` }, answer.height), '.'),
      deliverySummary(t, answer)),
    answer.bucket !== 'total' && deliveryChart(answer, seriesRegions),
    el('h3', {}, 'By region and kind'),
    answer.series.length === 0
      ? el('p', { class: 'muted', id: 'delivery-empty' }, 'No deployment, execution or failure in this period.')
      : el('table', { id: 'delivery-series' },
        el('thead', {}, el('tr', {}, ['region', 'kind', 'deployments', 'per day', 'executed', 'failed', 'failure rate', 'lead time mean', 'max', 'restores', 'time to restore mean', 'max']
          .map((h, i) => el('th', { class: i > 1 ? 'num' : undefined }, h)))),
        el('tbody', {}, answer.series.map(row))));
}

// ---- routing ----

async function route() {
  for (const stop of app.cleanup.splice(0)) stop();
  const view = document.getElementById('view');
  const [path, search] = (location.hash.replace(/^#/, '') || '/').split('?');
  const query = new URLSearchParams(search || '');
  const parts = path.split('/').filter(Boolean);
  for (const link of document.querySelectorAll('nav a')) {
    link.classList.toggle('active', link.dataset.nav === (parts[0] === 'proposal' ? 'proposals' : parts[0] || 'chain'));
  }
  const token = {};
  app.current = token;
  try {
    let stop;
    if (parts.length === 0) stop = await chainView(view);
    else if (parts[0] === 'proposals' && parts.length === 1) stop = await proposalsView(view, query);
    else if (parts[0] === 'proposal' && parts.length === 2) stop = await proposalView(view, parts[1]);
    else if (parts[0] === 'block' && parts.length === 2) stop = await blockView(view, parts[1]);
    else if (parts[0] === 'delivery' && parts.length === 1) stop = await deliveryView(view, query);
    else view.replaceChildren(el('section', { class: 'card wide', id: 'not-found' }, el('h2', {}, 'Not found'), el('p', {}, `Nothing at ${location.hash}. `, el('a', { href: '#/' }, 'The chain'))));
    if (stop) {
      if (app.current === token) app.cleanup.push(stop);
      else stop();
    }
    showError('');
  } catch (error) {
    showError(explain(error));
    if (app.current === token) {
      view.replaceChildren(el('section', { class: 'card wide' }, el('h2', {}, 'Cannot show this page'), el('p', {}, explain(error)),
        el('button', { type: 'button', onclick: route }, 'retry')));
    }
  }
}

async function start() {
  const liveMark = document.getElementById('live');
  app.live = new Live((state) => {
    liveMark.className = `live ${state}`;
    liveMark.textContent = state === 'live' ? 'live' : state === 'down' ? 'disconnected' : 'connecting';
  });
  app.live.subscribe('chain_subscribeFinalizedBlocks', 'chain_unsubscribeFinalizedBlocks', () => [], (b) => {
    setHead(b.header.height);
    for (const listener of app.blockListeners) listener(b);
  });
  try {
    const version = await call('system_version');
    app.chainId = version.chain_id;
    document.getElementById('chain-id').textContent = version.chain_id;
  } catch (error) {
    showError(explain(error));
  }
  window.addEventListener('hashchange', route);
  await route();
}

// For scripts and the console: the proof check with any proof, chain id and set.
window.accordExplorer = { call, verifyEventProof, validatorSet, describe, ProofError, blake3, hash, toHex, fromHex };

start();
