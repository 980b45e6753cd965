// The ops page's script: a plain ES module, no build step, no dependencies. It reads only this app's
// HTTP API (the Content-Security-Policy allows nothing else) with the function key the operator typed,
// kept in sessionStorage and sent as the x-functions-key header, never in a URL.

const API = document.body.dataset.api || '/api';
const KEY_STORE = 'chat-provisioner.functionKey';
const REFRESH_MS = 5000;
const STATES = ['queued', 'creating', 'pending', 'succeeded', 'failed'];
const STATE_HINT = {
  queued: 'waiting for a worker (or for its time)',
  creating: 'an attempt is calling Graph',
  pending: 'Graph answered 202; the timer follows the operation',
  succeeded: 'the chat exists',
  failed: 'gave up; can be retried',
};
const WAIT_LABEL = {
  notBefore: 'Not before',
  newHireGrace: 'New-hire grace',
  retryBackoff: 'Retry backoff',
  throttled: 'Throttled by Graph',
  operationPending: 'Operation pending',
  leased: 'Attempt running',
  inQueue: 'In the queue',
};

const $ = (id) => document.getElementById(id);

/** Builds an element; children are nodes or text (never parsed as HTML). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

// ------------------------------------------------------------------------------------------------
// The API.

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function key() {
  return sessionStorage.getItem(KEY_STORE);
}

async function api(path, init = {}) {
  const headers = { accept: 'application/json', 'x-functions-key': key() || '' };
  const response = await fetch(`${API}${path}`, { ...init, headers, credentials: 'same-origin', cache: 'no-store' });
  const text = await response.text();
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (response.status === 401 && !(body && body.type)) {
    // The host's answer to a missing or wrong function key (a signature problem has a body).
    throw new ApiError(401, { title: 'The function key was refused' });
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

// ------------------------------------------------------------------------------------------------
// Formatting.

const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

function relativeTime(iso) {
  const seconds = Math.round((Date.parse(iso) - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return seconds >= 0 ? 'in a few seconds' : 'just now';
  if (abs < 45 * 60) return relative.format(Math.round(seconds / 60), 'minute');
  if (abs < 36 * 3600) return relative.format(Math.round(seconds / 3600), 'hour');
  return relative.format(Math.round(seconds / 86400), 'day');
}

function time(iso, mode = 'both') {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return h('span', {}, iso);
  const text =
    mode === 'relative'
      ? relativeTime(iso)
      : mode === 'absolute'
        ? absolute.format(when)
        : `${absolute.format(when)} (${relativeTime(iso)})`;
  return h('time', { datetime: iso, title: iso }, text);
}

function badge(state) {
  return h('span', { class: `badge badge-${state}` }, state);
}

function code(text) {
  return h('code', {}, text);
}

function copyable(text) {
  return h('span', { class: 'copyable' }, code(text));
}

function shortId(id) {
  return `${id.slice(0, 8)}…${id.slice(-4)}`;
}

function memberText(member) {
  if (typeof member === 'string') return member;
  return member.user || member.id || JSON.stringify(member);
}

function dl(rows) {
  return h(
    'dl',
    { class: 'facts' },
    rows.filter(Boolean).map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
  );
}

// ------------------------------------------------------------------------------------------------
// Why a request waits: the service's own `waiting` when it sends one, else read from the fields.

function waitingOf(r) {
  if (r.waiting) return r.waiting;
  const now = Date.now();
  if (r.state === 'pending') {
    const op = r.operation || {};
    return {
      reason: 'operationPending',
      until: op.nextCheckAt,
      message: `Graph is still working on the chat (operation ${op.status || 'unknown'}, ${op.checks ?? 0} checks); the timer checks it again.`,
    };
  }
  if (r.state === 'creating') {
    return { reason: 'leased', message: 'A worker is calling Graph for this request now.' };
  }
  if (r.state !== 'queued') return undefined;
  if (r.notBefore && Date.parse(r.notBefore) > now && (!r.nextAttemptAt || r.nextAttemptAt <= r.notBefore)) {
    return { reason: 'notBefore', until: r.notBefore, message: 'The caller asked for the chat not before this time.' };
  }
  if (r.nextAttemptAt && Date.parse(r.nextAttemptAt) > now) {
    const e = r.error || {};
    if (e.httpStatus === 429 || e.code === 'TooManyRequests') {
      return {
        reason: 'throttled',
        until: r.nextAttemptAt,
        message: 'Graph answered 429; retried after its Retry-After, without limit.',
      };
    }
    if (/new user replicates/.test(e.message || '')) {
      return {
        reason: 'newHireGrace',
        until: r.nextAttemptAt,
        message: 'A member is unknown or unlicensed; retried while a new user replicates (NEW_USER_GRACE_MINUTES).',
      };
    }
    return {
      reason: 'retryBackoff',
      until: r.nextAttemptAt,
      message: 'The last attempt failed in a retryable way; retried with backoff.',
    };
  }
  return { reason: 'inQueue', message: 'Due now: waiting for a worker to take its queue message.' };
}

/** A wait that has run out: the request is due and waits for the worker or the timer to pick it up. */
function isPast(iso) {
  return Date.parse(iso) <= Date.now();
}

function waitingBlock(r) {
  const w = waitingOf(r);
  if (!w) return undefined;
  return h(
    'div',
    { class: `waiting waiting-${w.reason}`, id: 'waiting' },
    h('strong', {}, WAIT_LABEL[w.reason] || w.reason),
    w.until ? (isPast(w.until) ? [', due since ', time(w.until)] : [' until ', time(w.until)]) : undefined,
    h('p', {}, w.message),
  );
}

// ------------------------------------------------------------------------------------------------
// Views.

const view = { timer: undefined, chain: Promise.resolve(), waiting: 0 };

function say(message, kind = 'info') {
  const el = $('status');
  el.textContent = message || '';
  el.className = `status status-${kind}`;
}

function showError(error) {
  if (error instanceof ApiError && error.status === 401 && !(error.problem && error.problem.type)) {
    sessionStorage.removeItem(KEY_STORE);
    showKeyForm('The function key was refused (401). Enter a valid key.');
    return;
  }
  say(
    error instanceof ApiError ? `${error.status}: ${error.message}` : `Could not reach the API: ${error.message}`,
    'error',
  );
}

function showKeyForm(message) {
  $('app-view').hidden = true;
  $('tools').hidden = true;
  $('key-view').hidden = false;
  const err = $('key-error');
  err.hidden = !message;
  err.textContent = message || '';
  say('');
  $('key-input').value = '';
  $('key-input').focus();
}

const HISTORY_MS = 10 * 60_000;
const limiterHistory = [];
const seenCuts = new Set();
const SVG = 'http://www.w3.org/2000/svg';

/** The rate over the last 10 minutes as a small line (SVG attributes only: the CSP allows no inline style). */
function sparkline(points, maxRate, now) {
  const width = 240;
  const height = 44;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('class', 'sparkline');
  // Stretch to the cell; the strokes keep their width (non-scaling-stroke below).
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  const rates = points.map((p) => p.rate);
  svg.setAttribute(
    'aria-label',
    `Rate over the last ${Math.max(1, Math.round((now - (points[0] ? points[0].t : now)) / 60_000))} minutes: from ${Math.min(...rates)} to ${Math.max(...rates)} per second, maximum ${maxRate}`,
  );
  // The time axis spans what the page has seen, from one minute up to ten: a fresh page shows a line, not a dot.
  const span = Math.min(HISTORY_MS, Math.max(60_000, now - (points[0] ? points[0].t : now)));
  const x = (t) => width - ((now - t) / span) * width;
  const y = (rate) => height - 2 - (Math.min(rate, maxRate) / maxRate) * (height - 4);
  const ceiling = document.createElementNS(SVG, 'line');
  for (const [name, value] of Object.entries({ x1: 0, x2: width, y1: y(maxRate), y2: y(maxRate), class: 'ceiling' })) {
    ceiling.setAttribute(name, String(value));
  }
  ceiling.setAttribute('vector-effect', 'non-scaling-stroke');
  svg.append(ceiling);
  const line = document.createElementNS(SVG, 'polyline');
  const drawn = points.length === 1 ? [{ t: now - 5000, rate: points[0].rate }, points[0]] : points;
  line.setAttribute('points', drawn.map((p) => `${x(p.t).toFixed(1)},${y(p.rate).toFixed(1)}`).join(' '));
  line.setAttribute('class', 'rate-line');
  line.setAttribute('vector-effect', 'non-scaling-stroke');
  svg.append(line);
  return svg;
}

async function renderSummary() {
  const s = await api('/ops/summary');
  const counts = $('counts');
  const cards = STATES.map((state) => {
    const c = s.states[state];
    const n = `${c.count.toLocaleString()}${c.capped ? '+' : ''}`;
    return h(
      'a',
      { class: `count count-${state}`, href: `#/?state=${state}`, 'aria-label': `${n} ${state}: show them` },
      h('span', { class: 'count-n' }, n),
      h('span', { class: 'count-label' }, state),
      h('span', { class: 'count-hint' }, STATE_HINT[state]),
    );
  });
  cards.push(
    h(
      'div',
      { class: `count count-poison${s.queue.poisonDepth > 0 ? ' alarm' : ''}`, id: 'poison' },
      h('span', { class: 'count-n' }, s.queue.poisonDepth.toLocaleString()),
      h('span', { class: 'count-label' }, 'poison'),
      h(
        'span',
        { class: 'count-hint' },
        `${s.queue.approximateDepth.toLocaleString()} in ${s.queue.name}; poison should be 0`,
      ),
    ),
  );
  counts.replaceChildren(...cards);

  const l = s.limiter;
  const now = Date.now();
  const paused = l.pausedUntil && Date.parse(l.pausedUntil) > now;
  // What the page has seen since it opened, for the last 10 minutes: the rate at each refresh, and each
  // new lastThrottledAt (a 429 that cut the rate). The API keeps only the latest cut; the page remembers more.
  limiterHistory.push({ t: now, rate: l.rate });
  while (limiterHistory.length && limiterHistory[0].t < now - HISTORY_MS) limiterHistory.shift();
  if (l.lastThrottledAt) seenCuts.add(l.lastThrottledAt);
  const recentCuts = [...seenCuts].filter((t) => Date.parse(t) >= now - HISTORY_MS).length;
  $('limiter').replaceChildren(
    h('h3', {}, 'Graph rate limiter'),
    h(
      'div',
      { class: 'meter-row' },
      h('span', { class: 'rate' }, `${l.rate.toLocaleString(undefined, { maximumFractionDigits: 2 })}/s`),
      h('span', { class: 'muted' }, ` shared rate now, of ${l.maxRate}/s (GRAPH_MAX_RPS)`),
    ),
    sparkline(limiterHistory, l.maxRate, now),
    dl([
      ['Paused', paused ? ['every worker until ', time(l.pausedUntil)] : 'no'],
      ['Last cut by a 429', l.lastThrottledAt ? time(l.lastThrottledAt) : 'none since the rate row was made'],
      ['Cuts, last 10 min', `${recentCuts} seen while this page was open`],
      !l.shared ? ['Note', 'no worker has called Graph yet: these are the starting values'] : undefined,
    ]),
  );
  $('updated').textContent = `Updated ${absolute.format(new Date(s.checkedAt))}`;
}

function listQueryFromHash() {
  const hash = location.hash.replace(/^#\/?/, '');
  const q = hash.startsWith('?') ? hash.slice(1) : '';
  return new URLSearchParams(q);
}

async function renderList(params, fillForm) {
  const filters = $('filters');
  if (fillForm) {
    filters.state.value = params.get('state') || '';
    filters.externalId.value = params.get('externalId') || '';
    filters.since.value = params.get('since') || '';
    filters.top.value = params.get('top') || '50';
  }
  const query = new URLSearchParams();
  for (const name of ['state', 'externalId', 'since', 'continuationToken']) {
    if (params.get(name)) query.set(name, params.get(name));
  }
  query.set('top', params.get('top') || '50');
  let page;
  try {
    page = await api(`/requests?${query}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 400 && error.problem && error.problem.errors) {
      $('list').replaceChildren(
        h(
          'div',
          { class: 'problem', role: 'alert' },
          h('strong', {}, 'Filter not valid'),
          h(
            'ul',
            {},
            error.problem.errors.map((e) => h('li', {}, code(e.path), ': ', e.message)),
          ),
        ),
      );
      return;
    }
    throw error;
  }
  const rows = page.value.map((r) => {
    const w = waitingOf(r);
    return h(
      'tr',
      { 'data-id': r.id, 'data-state': r.state },
      h('td', {}, time(r.createdAt, 'absolute')),
      h('th', { scope: 'row' }, h('a', { href: `#/requests/${r.id}`, title: r.id }, code(shortId(r.id)))),
      h('td', {}, r.externalId || h('span', { class: 'muted' }, '—')),
      h('td', {}, badge(r.state)),
      h('td', { class: 'num' }, String(r.attempts)),
      h(
        'td',
        { class: 'wrap' },
        r.topic || (r.chatType === 'oneOnOne' ? h('span', { class: 'muted' }, 'one-on-one') : ''),
      ),
      h('td', {}, r.error ? code(r.error.code) : ''),
      h(
        'td',
        {},
        w
          ? [
              WAIT_LABEL[w.reason] || w.reason,
              w.until ? (isPast(w.until) ? ', due now' : [' ', time(w.until, 'relative')]) : '',
            ]
          : '',
      ),
    );
  });
  const table = rows.length
    ? h(
        'table',
        { class: 'requests' },
        h('caption', { class: 'visually-hidden' }, 'Requests, newest first'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Created', 'Id', 'externalId', 'State', 'Attempts', 'Topic', 'Error', 'Waiting'].map((t) =>
              h('th', { scope: 'col' }, t),
            ),
          ),
        ),
        h('tbody', {}, rows),
      )
    : h('p', { class: 'empty' }, 'No requests match.');
  const nav = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  if (params.get('continuationToken')) {
    const first = new URLSearchParams(params);
    first.delete('continuationToken');
    nav.append(h('a', { href: `#/?${first}`, class: 'button quiet' }, '← First page'));
  }
  if (page.nextLink) {
    const next = new URL(page.nextLink, location.origin).searchParams;
    const forward = new URLSearchParams(params);
    forward.set('continuationToken', next.get('continuationToken'));
    nav.append(h('a', { href: `#/?${forward}`, class: 'button', id: 'next-page', rel: 'next' }, 'Next page →'));
  }
  $('list').replaceChildren(
    h(
      'p',
      { class: 'muted' },
      `${page.value.length} shown, newest first${page.nextLink ? '; more on the next page' : ''}.`,
    ),
    h('div', { class: 'table-wrap' }, table),
    nav,
  );
}

async function renderDetail(id) {
  let r;
  try {
    r = await api(`/requests/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      $('detail').replaceChildren(h('h2', { id: 'detail-title' }, 'Not found'), h('p', {}, error.message));
      return;
    }
    throw error;
  }
  const sections = [];
  sections.push(
    h(
      'div',
      { class: 'detail-head' },
      h(
        'h2',
        { id: 'detail-title', tabindex: '-1' },
        r.topic || (r.chatType === 'oneOnOne' ? 'One-on-one chat' : 'Group chat'),
        ' ',
        badge(r.state),
      ),
      r.state === 'failed'
        ? h('button', { type: 'button', id: 'retry', class: 'primary', onclick: () => retry(r.id) }, 'Retry')
        : undefined,
    ),
  );
  sections.push(
    dl([
      ['Id', copyable(r.id)],
      r.externalId ? ['externalId', copyable(r.externalId)] : undefined,
      ['Created', time(r.createdAt)],
      ['Last change', time(r.updatedAt)],
      ['Attempts', String(r.attempts)],
      r.notBefore ? ['Not before', time(r.notBefore)] : undefined,
      r.nextAttemptAt ? ['Next attempt', time(r.nextAttemptAt)] : undefined,
    ]),
  );
  const w = waitingBlock(r);
  if (w) sections.push(h('h3', {}, 'Why it waits'), w);
  if (r.chat) {
    sections.push(
      h('h3', {}, 'Chat'),
      dl([
        ['Chat id', copyable(r.chat.id)],
        r.chat.webUrl
          ? [
              'Open',
              h(
                'a',
                { href: r.chat.webUrl, target: '_blank', rel: 'noopener noreferrer', id: 'chat-link' },
                'Open the chat in Teams ↗',
              ),
            ]
          : undefined,
        r.chat.createdDateTime ? ['Created by Graph', time(r.chat.createdDateTime)] : undefined,
      ]),
    );
  }
  if (r.error) {
    const e = r.error;
    sections.push(
      h('h3', {}, r.state === 'failed' ? 'Error' : 'Last error (retryable)'),
      h(
        'div',
        { class: `problem${r.state === 'failed' ? '' : ' soft'}`, id: 'error' },
        h(
          'p',
          {},
          code(e.code),
          e.httpStatus ? ` HTTP ${e.httpStatus}` : '',
          e.retryable ? ' · retryable' : ' · not retryable',
        ),
        h('p', { class: 'message' }, e.message),
        dl([
          [
            'Graph request-id',
            e.graphRequestId
              ? copyable(e.graphRequestId)
              : h('span', { class: 'muted' }, 'none (Graph was not reached)'),
          ],
          e.clientRequestId ? ['client-request-id', copyable(e.clientRequestId)] : undefined,
        ]),
        h(
          'p',
          { class: 'hint' },
          'Keep both ids with a ticket to Microsoft. What the code means and what to do: docs/operations.md, “Failure codes”.',
        ),
      ),
    );
  }
  if (r.operation) {
    const op = r.operation;
    sections.push(
      h('h3', {}, 'Graph operation'),
      h(
        'div',
        { id: 'operation' },
        dl([
          ['Status', code(op.status)],
          ['Checks', String(op.checks)],
          op.startedAt ? ['Started', time(op.startedAt)] : undefined,
          op.nextCheckAt ? ['Next check', time(op.nextCheckAt)] : undefined,
          ['Location', h('code', { class: 'wrap' }, op.location)],
        ]),
      ),
    );
  }
  if (r.callback) {
    const cb = r.callback;
    sections.push(
      h('h3', {}, 'Callback'),
      h(
        'div',
        { id: 'callback' },
        dl([
          ['URL', h('code', { class: 'wrap' }, cb.url)],
          [
            'Delivery',
            // The colour of the request state of the same mood, with the delivery's own word.
            h(
              'span',
              { class: `badge badge-${{ delivered: 'succeeded', failed: 'failed' }[cb.state] || 'queued'}` },
              cb.state,
            ),
          ],
          ['Tries', String(cb.attempts)],
          cb.nextAttemptAt ? ['Next try', time(cb.nextAttemptAt)] : undefined,
          cb.lastError ? ['Last error', cb.lastError] : undefined,
        ]),
      ),
    );
  }
  sections.push(
    h('h3', {}, `Members (${r.members.length})`),
    h(
      'table',
      { class: 'members' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'User'),
          h('th', { scope: 'col' }, 'Role'),
          h('th', { scope: 'col' }, 'Tenant'),
        ),
      ),
      h(
        'tbody',
        {},
        r.members.map((m) =>
          h(
            'tr',
            {},
            h('td', {}, memberText(m)),
            h('td', {}, (typeof m === 'object' && m.role) || 'owner'),
            h('td', {}, (typeof m === 'object' && m.tenantId) || h('span', { class: 'muted' }, 'this tenant')),
          ),
        ),
      ),
    ),
  );
  if (r.apps && r.apps.length) {
    sections.push(
      h('h3', {}, 'App'),
      h(
        'ul',
        {},
        r.apps.map((a) =>
          h('li', {}, code(a.teamsAppId), a.rscPermissions ? ` · ${a.rscPermissions.length} RSC permissions` : ''),
        ),
      ),
    );
  }
  sections.push(h('details', {}, h('summary', {}, 'The resource as JSON'), h('pre', {}, JSON.stringify(r, null, 2))));
  $('detail').replaceChildren(...sections);
}

async function retry(id) {
  const button = $('retry');
  if (button) button.disabled = true;
  let message = ['Retried: the request is queued again.', 'ok'];
  try {
    await api(`/requests/${encodeURIComponent(id)}/retry`, { method: 'POST' });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && !(error.problem && error.problem.type)) {
      showError(error);
      return;
    }
    message = [`Not retried: ${error.status ? `${error.status} ` : ''}${error.message}`, 'error'];
  }
  await refresh();
  say(...message);
  const title = $('detail-title');
  if (title) title.focus();
}

/**
 * Re-renders the summary and the current view; `navigated`: the hash changed (fill the filter form).
 * Renders run one after another, so a navigation during an auto-refresh is drawn after it, never lost.
 */
function refresh(navigated = false) {
  view.waiting += 1;
  view.chain = view.chain
    .then(() => render(navigated))
    .finally(() => {
      view.waiting -= 1;
    });
  return view.chain;
}

async function render(navigated) {
  if (!key()) return;
  // A re-render replaces the nodes: keep keyboard focus on the element of the same id, if it has one.
  const focused = document.activeElement && document.activeElement.id;
  try {
    const route = location.hash.replace(/^#/, '');
    const detail = /^\/requests\/([^/?]+)/.exec(route);
    $('list-view').hidden = Boolean(detail);
    $('detail-view').hidden = !detail;
    await renderSummary();
    if (detail) await renderDetail(decodeURIComponent(detail[1]));
    else await renderList(listQueryFromHash(), navigated);
    if (focused && $(focused) && document.activeElement !== $(focused)) $(focused).focus();
    if ($('status').classList.contains('status-error')) say('');
  } catch (error) {
    showError(error);
  }
}

function schedule() {
  clearInterval(view.timer);
  view.timer = setInterval(() => {
    // Skipped while a render is still running or queued: a slow API gets no pile of requests.
    if ($('auto-refresh').checked && !document.hidden && view.waiting === 0) refresh();
  }, REFRESH_MS);
}

async function navigate() {
  say('');
  await refresh(true);
  const title = location.hash.startsWith('#/requests/') ? $('detail-title') : undefined;
  if (title) title.focus();
}

function start() {
  $('app-view').hidden = false;
  $('tools').hidden = false;
  $('key-view').hidden = true;
  navigate();
  schedule();
}

$('key-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const value = $('key-input').value.trim();
  if (!value) {
    $('key-error').hidden = false;
    $('key-error').textContent = 'Enter a function key.';
    return;
  }
  sessionStorage.setItem(KEY_STORE, value);
  start();
});

$('forget-key').addEventListener('click', () => {
  sessionStorage.removeItem(KEY_STORE);
  clearInterval(view.timer);
  showKeyForm();
});

$('filters').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const params = new URLSearchParams();
  for (const name of ['state', 'externalId', 'since']) {
    const value = form[name].value.trim();
    if (value) params.set(name, value);
  }
  if (form.top.value !== '50') params.set('top', form.top.value);
  const hash = `#/?${params}`;
  if (location.hash === hash) refresh();
  else location.hash = hash;
});

$('f-clear').addEventListener('click', () => {
  location.hash = '#/';
});

window.addEventListener('hashchange', navigate);

if (key()) start();
else showKeyForm();
