/*
 * LensGraph tracker.js: a drop-in for Agent Analytics' tracker (seed 003). A site switches by
 * pointing the snippet's src here; the snippet, the window.aa calls and the data-* attributes stay:
 *
 *   <script defer src="https://lensgraph.example/agent-analytics/tracker.js"
 *           data-project="my-site" data-token="aat_..."></script>
 *
 * It posts to the prefix it was loaded from (its own src), batches with sendBeacon (fetch keepalive
 * when a beacon is refused), keeps URLs and referrers to origin + path (utm_* kept), sets no cookie
 * unless data-cookie-domain asks for one, and assigns experiment variants by the server's rule
 * (resolvers/experiments/assignment.py; vectors in tests/resolvers/assignment_vectors.json).
 * The server minifies this file once and serves it gzipped when the browser accepts that.
 */
(function (w, d) {
  'use strict';
  var noop = function () {};
  if (!w.aa) {
    // Calls made before this script runs (or when it cannot run) do nothing rather than throw.
    w.aa = {track: noop, identify: noop, page: noop, set: noop, flush: noop, ready: noop,
      experiment: function () { return null; }, getIdentity: function () { return {}; }};
  }
  if (w.__lensgraphTracker) return;
  w.__lensgraphTracker = true;

  var script = d.currentScript;
  if (!script || !script.src) return;
  var attr = function (name) { return script.getAttribute('data-' + name); };
  if (attr('do-not-track') === 'true' && (navigator.doNotTrack === '1' || navigator.globalPrivacyControl)) return;

  var BASE = script.src.replace(/\/tracker\.js([?#].*)?$/, '');
  var PROJECT = attr('project') || 'default';
  var TOKEN = attr('token');
  var COOKIE_DOMAIN = attr('cookie-domain');
  var FLUSH_MS = 1000;
  var MAX_BATCH = 50;
  var MAX_BYTES = 60000; // sendBeacon refuses bodies past 64 KiB
  var SESSION_MS = 30 * 60 * 1000;
  var UTM = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'];

  // Storage scoped per token/project; private modes that refuse storage fall back to memory.
  var scope = 'aa:' + encodeURIComponent(TOKEN || PROJECT) + ':';
  function store(kind) {
    var memory = {};
    var native = null;
    try { native = w[kind]; native.getItem(scope); } catch (e) { native = null; }
    return {
      get: function (k) {
        if (k in memory) return memory[k];
        try { return native ? native.getItem(scope + k) : null; } catch (e) { return null; }
      },
      set: function (k, v) {
        memory[k] = String(v);
        try { if (native) native.setItem(scope + k, String(v)); } catch (e) { /* memory keeps it */ }
      }
    };
  }
  var local = store('localStorage');
  var session = store('sessionStorage');

  function randomId(prefix) {
    var c = w.crypto;
    var raw = c && c.randomUUID ? c.randomUUID().replace(/-/g, '') : Math.random().toString(36).slice(2) + Date.now().toString(36);
    return prefix + raw;
  }

  function readCookie(name) {
    var m = d.cookie.match(new RegExp('(?:^|; )' + name + '=([^;]*)'));
    return m ? decodeURIComponent(m[1]) : null;
  }

  // The anonymous id lives in localStorage; a first-party cookie only when data-cookie-domain is set,
  // so sibling subdomains share one visitor.
  var anonId = (COOKIE_DOMAIN && readCookie('aa_uid')) || local.get('uid') || randomId('anon_');
  local.set('uid', anonId);
  if (COOKIE_DOMAIN) {
    d.cookie = 'aa_uid=' + encodeURIComponent(anonId) + '; domain=' + COOKIE_DOMAIN +
      '; path=/; max-age=31536000; SameSite=Lax' + (location.protocol === 'https:' ? '; Secure' : '');
  }
  var userId = local.get('user');
  function actor() { return userId || anonId; }

  function sessionId() {
    var now = Date.now();
    var sid = session.get('sid');
    if (!sid || now - Number(session.get('seen') || 0) > SESSION_MS) {
      sid = randomId('sess_');
      session.set('sid', sid);
    }
    session.set('seen', now);
    return sid;
  }

  // origin + path; of the query only the utm_* keys, which attribution needs.
  function clean(value, keepUtm) {
    if (!value) return '';
    try {
      var u = new URL(value, location.href);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return '';
      var kept = [];
      if (keepUtm) {
        UTM.forEach(function (k) {
          var v = u.searchParams.get(k);
          if (v) kept.push(encodeURIComponent(k) + '=' + encodeURIComponent(v));
        });
      }
      return u.origin + u.pathname + (kept.length ? '?' + kept.join('&') : '');
    } catch (e) { return ''; }
  }

  // UTM values last for the session, so the pages after the landing page keep their source.
  function utm() {
    var params = new URLSearchParams(location.search);
    var found = {};
    var any = false;
    UTM.forEach(function (k) { var v = params.get(k); if (v) { found[k] = v; any = true; } });
    if (any) session.set('utm', JSON.stringify(found));
    else { try { found = JSON.parse(session.get('utm') || '{}'); } catch (e) { found = {}; } }
    return found;
  }

  function device() {
    var width = screen.width;
    if (/iPad|Tablet/i.test(navigator.userAgent) || (width >= 768 && width < 1024)) return 'tablet';
    return /Mobi/i.test(navigator.userAgent) || width < 768 ? 'mobile' : 'desktop';
  }

  var sticky = {};
  function context(extra) {
    var p = {
      url: clean(location.href, true),
      path: location.pathname,
      hostname: location.hostname,
      referrer: clean(d.referrer, false),
      title: d.title,
      screen: screen.width + 'x' + screen.height,
      language: navigator.language || '',
      device: device()
    };
    try { p.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { /* older browsers */ }
    var u = utm();
    var k;
    for (k in u) p[k] = u[k];
    for (k in sticky) p[k] = sticky[k];
    if (extra && typeof extra === 'object') for (k in extra) if (Object.prototype.hasOwnProperty.call(extra, k)) p[k] = extra[k];
    return p;
  }

  var queue = [];
  var timer = null;

  function post(path, body) {
    var url = BASE + path + (TOKEN ? '?token=' + encodeURIComponent(TOKEN) : '');
    // text/plain keeps the request CORS-simple: no preflight, so it survives the page closing.
    try { if (navigator.sendBeacon && navigator.sendBeacon(url, new Blob([body], {type: 'text/plain'}))) return; } catch (e) { /* fall through */ }
    try {
      fetch(url, {method: 'POST', body: body, keepalive: true, credentials: 'omit',
        headers: {'Content-Type': 'text/plain'}}).catch(noop);
    } catch (e) { /* nothing more to try */ }
  }

  function send(events) {
    var body = JSON.stringify({project: PROJECT, events: events});
    if (body.length > MAX_BYTES && events.length > 1) {
      var half = Math.ceil(events.length / 2);
      send(events.slice(0, half));
      send(events.slice(half));
    } else if (body.length <= MAX_BYTES) {
      post('/track/batch', body);
    }
  }

  function flush() {
    if (timer) { clearTimeout(timer); timer = null; }
    while (queue.length) send(queue.splice(0, MAX_BATCH));
  }

  function track(event, properties) {
    if (!event) return;
    queue.push({event: String(event), properties: context(properties), user_id: actor(),
      anonymous_id: anonId, session_id: sessionId(), timestamp: Date.now()});
    if (queue.length >= MAX_BATCH) flush();
    else if (!timer) timer = setTimeout(flush, FLUSH_MS);
  }

  d.addEventListener('visibilitychange', function () { if (d.visibilityState === 'hidden') flush(); });
  w.addEventListener('pagehide', flush);

  // --- Experiments: the server's rule, bit for bit (32-bit FNV-1a, then MurmurHash3's fmix32) ---
  function bucket(name, who) {
    var h = 0x811c9dc5;
    var bytes = new TextEncoder().encode(name + '.' + who);
    for (var i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
    h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
    return (h >>> 0) % 10000;
  }

  var config = null; // name -> variants [{key, weight}], once /experiments/config answers
  var assigned = {};
  var waiting = [];

  function experiment(name, fallback) {
    if (assigned[name] !== undefined) return assigned[name];
    var variants = config ? config[name] : null;
    if (!config && fallback && fallback.length) {
      // No config (no token, or the server unreachable): the seed's even split, remainder to the first.
      var share = Math.floor(100 / fallback.length);
      variants = fallback.map(function (key, i) { return {key: key, weight: share + (i ? 0 : 100 - share * fallback.length)}; });
    }
    if (!variants) return null; // paused, completed or unknown: no new assignment
    var forced = new URLSearchParams(location.search).get('aa_variant_' + name);
    for (var f = 0; f < variants.length; f++) {
      // A QA override shows the variant but records no exposure, so it cannot skew results.
      if (variants[f].key === forced) return (assigned[name] = forced);
    }
    // A visitor keeps the variant first assigned on this device, even after identify() changes the id
    // the rule hashes; the exposure is sent once, when that first assignment is made.
    var kept = local.get('exp:' + name);
    for (var s = 0; s < variants.length; s++) if (variants[s].key === kept) return (assigned[name] = kept);
    var at = bucket(name, actor());
    var cumulative = 0;
    var choice = variants[variants.length - 1].key;
    for (var i = 0; i < variants.length; i++) {
      cumulative += variants[i].weight * 100;
      if (at < cumulative) { choice = variants[i].key; break; }
    }
    assigned[name] = choice;
    local.set('exp:' + name, choice);
    track('$experiment_exposure', {experiment: name, variant: choice});
    return choice;
  }

  // Elements marked data-aa-experiment show the text of their data-aa-variant-<variant> attribute.
  function applyDeclarative() {
    var marked = d.querySelectorAll('[data-aa-experiment]');
    for (var i = 0; i < marked.length; i++) {
      var variant = experiment(marked[i].getAttribute('data-aa-experiment'));
      var text = variant && marked[i].getAttribute('data-aa-variant-' + variant.toLowerCase());
      if (text !== null && text !== undefined && variant) marked[i].textContent = text;
    }
    d.documentElement.classList.remove('aa-loading');
  }

  function configured(experiments) {
    if (experiments) {
      config = {};
      experiments.forEach(function (e) { config[e.key] = e.variants; });
    }
    if (d.readyState === 'loading') d.addEventListener('DOMContentLoaded', applyDeclarative);
    else applyDeclarative();
    var callbacks = waiting;
    waiting = null;
    callbacks.forEach(function (fn) { try { fn(); } catch (e) { /* the site's callback */ } });
  }

  if (TOKEN) {
    fetch(BASE + '/experiments/config?token=' + encodeURIComponent(TOKEN), {credentials: 'omit'})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { configured(body && body.experiments); }, function () { configured(null); });
  } else {
    configured(null);
  }

  // --- Page views: the first one now, SPA navigation when data-track-spa="true" ---
  function page(name) { track('page_view', {page: name || d.title}); }
  var lastPath = location.pathname + location.search + location.hash;
  function route() {
    var now = location.pathname + location.search + location.hash;
    if (now !== lastPath) { lastPath = now; page(); }
  }
  if (attr('track-spa') === 'true') {
    ['pushState', 'replaceState'].forEach(function (fn) {
      var original = history[fn];
      history[fn] = function () { var r = original.apply(this, arguments); route(); return r; };
    });
    w.addEventListener('popstate', route);
    w.addEventListener('hashchange', route);
  }

  // Clicks on data-aa-event elements are events; their data-aa-event-* attributes are properties.
  d.addEventListener('click', function (e) {
    var el = e.target && e.target.closest ? e.target.closest('[data-aa-event]') : null;
    if (!el) return;
    var props = {};
    for (var i = 0; i < el.attributes.length; i++) {
      var a = el.attributes[i].name;
      if (a.indexOf('data-aa-event-') === 0) props[a.slice(14)] = el.attributes[i].value;
    }
    track(el.getAttribute('data-aa-event'), props);
  }, true);

  w.aa = {
    track: track,
    page: page,
    experiment: experiment,
    flush: flush,
    identify: function (id, traits) {
      if (!id || String(id) === actor()) return;
      var previous = actor();
      userId = String(id);
      local.set('user', userId);
      track('$identify', Object.assign({previous_id: previous}, traits || {}));
    },
    set: function (props) {
      for (var k in props || {}) { if (props[k] === null) delete sticky[k]; else sticky[k] = props[k]; }
    },
    ready: function (fn) { if (waiting) waiting.push(fn); else fn(); },
    getIdentity: function () { return {anonymousId: anonId, userId: userId || null}; }
  };
  page();
})(window, document);
