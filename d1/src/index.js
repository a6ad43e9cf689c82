// D1 bridge: boothcloud's `Database` interface over HTTP, for the D1 binding `DB`.
//
// Every route is `POST` with a JSON body and needs `Authorization: Bearer <BRIDGE_TOKEN>`
// (a Worker secret; compared in constant time). Values travel as JSON: null, numbers,
// strings, blobs as {"$blob": "<base64>"} and infinities as {"$float": "inf"|"-inf"}.
//
//   POST /query  {sql, params}            -> {rows, changes}            one statement
//   POST /batch  {statements: [{sql, params}]} -> {results: [{rows, changes}]}  atomic
//   POST /exec   {sql}                    -> {statements: n}   script, split, one atomic batch
//   POST /dump   {}                       -> {schema, sequence, tables, bookmark}: the state
//   POST /dump   {table, key, after, limit, budget} -> {rows, last}: one page by key
//   GET  /health                          -> {ok: true}  (no auth, no database access)
//   GET  /stats                           -> {calls}: authorized calls this isolate served
//                                            (benchmarks count round trips with it)
//
// Errors answer {"error": {"message", "kind"}}: 401 bad token, 400 bad request,
// 422 the database refused the SQL (message as SQLite words it, e.g.
// "UNIQUE constraint failed: customers.email"), 500 anything else.

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };
const MAX_BODY_BYTES = 8 * 1024 * 1024;
let calls = 0; // per isolate: exact on local workerd (one isolate), a sample on Cloudflare

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health" && request.method === "GET") {
      return json({ ok: true });
    }
    if (!env.BRIDGE_TOKEN) {
      return error(503, "config", "BRIDGE_TOKEN is not configured for this Worker");
    }
    if (!(await authorized(request, env.BRIDGE_TOKEN))) {
      return error(401, "auth", "missing or bad bearer token", {
        "www-authenticate": 'Bearer realm="d1-bridge"',
      });
    }
    if (url.pathname === "/stats" && request.method === "GET") {
      return json({ calls });
    }
    const route = ROUTES[url.pathname];
    calls++;
    if (!route) {
      return error(404, "not_found", `no route ${url.pathname}`);
    }
    if (request.method !== "POST") {
      return error(405, "method", "use POST", { allow: "POST" });
    }
    const length = Number(request.headers.get("content-length") ?? "0");
    if (length > MAX_BODY_BYTES) {
      return error(413, "too_large", `body over ${MAX_BODY_BYTES} bytes`);
    }
    let body;
    try {
      body = await request.json();
    } catch {
      return error(400, "bad_request", "body is not JSON");
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      return error(400, "bad_request", "body must be a JSON object");
    }
    try {
      return await route(env.DB, body);
    } catch (e) {
      if (e instanceof BadRequest) {
        return error(400, "bad_request", e.message);
      }
      return databaseError(e);
    }
  },
};

const ROUTES = {
  "/query": async (db, body) => {
    const result = await prepare(db, body).all();
    return json(shapeResult(result));
  },
  "/batch": async (db, body) => {
    if (!Array.isArray(body.statements)) {
      throw new BadRequest("statements must be a list");
    }
    if (body.statements.length === 0) {
      return json({ results: [] });
    }
    const results = await db.batch(body.statements.map((s) => prepare(db, s)));
    return json({ results: results.map(shapeResult) });
  },
  "/exec": async (db, body) => {
    if (typeof body.sql !== "string") {
      throw new BadRequest("sql must be a string");
    }
    // Atomic, unlike D1's `exec()`: the script's statements run as one batch (one
    // transaction), split the way `wrangler d1 execute` splits a file.
    const statements = splitSqlQuery(body.sql);
    if (statements.length > 0) {
      await db.batch(statements.map((sql) => db.prepare(sql)));
    }
    return json({ statements: statements.length });
  },
  "/dump": async (db, body) => dump(db, body),
};

// --- auth -------------------------------------------------------------------------------

async function authorized(request, token) {
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer (.+)$/i.exec(header);
  const given = match ? match[1] : "";
  // Hash both sides so the comparison is constant time whatever the lengths.
  const encoder = new TextEncoder();
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(given)),
    crypto.subtle.digest("SHA-256", encoder.encode(token)),
  ]);
  return crypto.subtle.timingSafeEqual(a, b) && match !== null;
}

// --- values -----------------------------------------------------------------------------

class BadRequest extends Error {}

function prepare(db, statement) {
  if (statement === null || typeof statement !== "object" || typeof statement.sql !== "string") {
    throw new BadRequest("each statement needs sql (a string)");
  }
  const params = statement.params ?? [];
  if (!Array.isArray(params)) {
    throw new BadRequest("params must be a list");
  }
  // D1 would run every statement of "a; b" and answer the last; SQLite (and so the
  // embedded backend) refuses that, and so does the bridge. Only SQL with a `;` can hold
  // two (the splitter walks every character: too dear for every statement).
  if (statement.sql.includes(";") && splitSqlQuery(statement.sql).length > 1) {
    throw new BadRequest("You can only execute one statement at a time.");
  }
  const prepared = db.prepare(statement.sql);
  return params.length > 0 ? prepared.bind(...params.map(decodeValue)) : prepared;
}

function decodeValue(value) {
  if (value === null || typeof value === "number" || typeof value === "string") {
    return value;
  }
  if (typeof value === "boolean") {
    return value ? 1 : 0;
  }
  if (typeof value === "object" && typeof value.$blob === "string") {
    return base64ToBytes(value.$blob);
  }
  if (typeof value === "object" && (value.$float === "inf" || value.$float === "-inf")) {
    return value.$float === "inf" ? Infinity : -Infinity; // JSON has no infinities
  }
  throw new BadRequest(`unsupported parameter ${JSON.stringify(value)}`);
}

function encodeValue(value) {
  if (typeof value === "number" && !Number.isFinite(value)) {
    return Number.isNaN(value) ? null : { $float: value > 0 ? "inf" : "-inf" };
  }
  if (value instanceof ArrayBuffer) {
    return { $blob: bytesToBase64(new Uint8Array(value)) };
  }
  if (ArrayBuffer.isView(value)) {
    return { $blob: bytesToBase64(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
  }
  if (Array.isArray(value)) {
    return { $blob: bytesToBase64(Uint8Array.from(value)) }; // D1 gives blobs as byte arrays
  }
  return value;
}

function encodeRow(row) {
  const out = {};
  for (const [key, value] of Object.entries(row)) {
    out[key] = encodeValue(value);
  }
  return out;
}

function shapeResult(result) {
  return {
    rows: (result.results ?? []).map(encodeRow),
    changes: result.meta?.changes ?? 0,
  };
}

function base64ToBytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}

function bytesToBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

// --- responses --------------------------------------------------------------------------

function json(value, status = 200, headers = {}) {
  return new Response(JSON.stringify(value), {
    status,
    headers: { ...JSON_HEADERS, ...headers },
  });
}

function error(status, kind, message, headers = {}) {
  return json({ error: { kind, message } }, status, headers);
}

// D1 words errors as "D1_ERROR: UNIQUE constraint failed: customers.email: SQLITE_CONSTRAINT"
// (the cause may carry the same). Hand back SQLite's own words so the client names the
// constraint exactly as the embedded SQLite backend does.
function databaseError(e) {
  const raw = String(e?.cause?.message ?? e?.message ?? e);
  if (!/D1_|SQLITE_/.test(raw)) {
    console.error("d1 bridge: unexpected error", e);
    return error(500, "internal", raw);
  }
  const message = sqliteMessage(raw);
  const kind = / constraint failed/.test(message) ? "constraint" : "sql";
  return json({ error: { kind, message, raw } }, 422);
}

function sqliteMessage(raw) {
  let message = raw.trim();
  for (;;) {
    const stripped = message
      .replace(/^(D1_ERROR|D1_EXEC_ERROR|D1_TYPE_ERROR|D1_COLUMN_NOTFOUND|Error):\s*/, "")
      .replace(/^Error in line \d+:\s*/, "")
      .replace(/:\s*SQLITE_[A-Z_]+(\s*\(extended:\s*SQLITE_[A-Z_]+\))?$/, "")
      .trim();
    if (stripped === message) {
      return message;
    }
    message = stripped;
  }
}

// --- dump -------------------------------------------------------------------------------
// Paged, so a table of any size dumps within the Worker's 128 MB and D1's limits: the
// client first asks for the state (schema, each table's columns and paging key, a
// fingerprint per table and the Time Travel bookmark), then for each table page after
// page by key (rowid, or the primary key of a WITHOUT ROWID table), then for the state
// again. A page holds at most `limit` rows and about `budget` bytes of values: a window
// sum of the values' lengths picks where the page ends, in the same statement that reads
// it. See docs/d1.md ("Dumping at scale") for what consistency that gives.

const SCHEMA_SQL =
  "SELECT type, name, tbl_name, sql FROM sqlite_master " +
  "WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' " +
  "AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY rowid";
const SEQUENCE_SQL = "SELECT 1 AS present FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'";
const MAX_PAGE_ROWS = 10_000;
const MAX_PAGE_BUDGET = 8 * 1024 * 1024;

function quoteIdentifier(name) {
  return '"' + String(name).replaceAll('"', '""') + '"';
}

async function dump(db, body) {
  // A session that starts at the primary: its bookmark is the latest committed state.
  const session = typeof db.withSession === "function" ? db.withSession("first-primary") : db;
  if (body.table === undefined) {
    return json(await dumpState(session));
  }
  return json(await dumpPage(session, body));
}

async function dumpState(db) {
  const [schema, sequence] = await db.batch([db.prepare(SCHEMA_SQL), db.prepare(SEQUENCE_SQL)]);
  const names = schema.results.filter((row) => row.type === "table").map((row) => row.name);
  if (sequence.results.length > 0) {
    names.push("sqlite_sequence");
  }
  const info = await db.batch(
    names.map((name) =>
      db.prepare("SELECT name, pk FROM pragma_table_info(?) ORDER BY cid").bind(name),
    ),
  );
  const tables = names.map((name, i) => {
    const columns = info[i].results.map((row) => row.name);
    const sql = schema.results.find((row) => row.name === name)?.sql ?? "";
    const withoutRowid = /\)\s*WITHOUT\s+ROWID\s*;?\s*$/i.test(sql);
    const primary = info[i].results.filter((row) => row.pk > 0).sort((a, b) => a.pk - b.pk);
    const key = withoutRowid ? primary.map((row) => row.name) : ["rowid"];
    return { name, columns, key };
  });
  const terms = tables.map(fingerprintTerms);
  const marks = await db.batch(
    tables.map((t, i) => {
      const list = terms[i].map((term, n) => `${term} AS f${n}`).join(", ");
      return db.prepare(`SELECT ${list} FROM ${quoteIdentifier(t.name)}`);
    }),
  );
  tables.forEach((t, i) => {
    const mark = marks[i].results[0];
    t.fingerprint = terms[i].map((_, n) => encodeValue(mark[`f${n}`]));
  });
  const bookmark = typeof db.getBookmark === "function" ? db.getBookmark() : null;
  return { schema: schema.results, sequence: sequence.results.length > 0, tables, bookmark };
}

// A table's fingerprint, for the client to compare before and after a dump: aggregates
// of one scan. Rows and largest key, and per column its non-NULL count, its total (a
// number's value, a text's or blob's length) and its largest value (a text's first 64
// characters, a blob's length). A write that changes any of these is seen: a row in or
// out, a NULL filled or cleared, a status or number changed, a timestamp moved forward
// (`updated_at`, `last_seen_at`, `processed_at`, ...). D1 has no hash function in SQL, so
// a write that keeps every one (a text replaced by another of the same length that does
// not become the largest, two writes that cancel out) is not. (Local D1's bookmark and
// total_changes() advance on reads too, so neither can tell a write.)
function fingerprintTerms(t) {
  const terms = ["count(*)", t.key.length === 1 ? `max(${quoteIdentifier(t.key[0])})` : "NULL"];
  for (const name of t.columns) {
    const c = quoteIdentifier(name);
    terms.push(
      `count(${c})`,
      `total(CASE WHEN typeof(${c}) IN ('integer', 'real') THEN ${c} ELSE length(${c}) END)`,
      `max(CASE typeof(${c}) WHEN 'blob' THEN length(${c}) ` +
        `WHEN 'text' THEN substr(${c}, 1, 64) ELSE ${c} END)`,
    );
  }
  return terms;
}

async function dumpPage(db, body) {
  const { table, key, after } = body;
  if (typeof table !== "string" || !Array.isArray(key) || key.length === 0) {
    throw new BadRequest("a page needs table (a string) and key (column names)");
  }
  if (key.length > 40 || !key.every((k) => typeof k === "string")) {
    throw new BadRequest("key must be at most 40 column names"); // 2 binds each, 100 at most
  }
  if (after !== null && (!Array.isArray(after) || after.length !== key.length)) {
    throw new BadRequest("after must be null or one value per key column");
  }
  const limit = Math.min(Math.max(1, Number(body.limit) || 1000), MAX_PAGE_ROWS);
  const budget = Math.min(Math.max(1024, Number(body.budget) || 1 << 20), MAX_PAGE_BUDGET);
  const columns = (
    await db.prepare("SELECT name FROM pragma_table_info(?) ORDER BY cid").bind(table).all()
  ).results.map((row) => row.name);
  if (columns.length === 0) {
    throw new BadRequest(`no table ${table}`);
  }
  const t = quoteIdentifier(table);
  const keys = key.map(quoteIdentifier);
  const tuple = (names) => (names.length === 1 ? names[0] : `(${names.join(", ")})`);
  const places = (n) => (n === 1 ? "?" : `(${Array(n).fill("?").join(", ")})`);
  const order = keys.join(", ");
  const size = columns.map((c) => `coalesce(length(${quoteIdentifier(c)}), 0) + 8`).join(" + ");
  const where = after === null ? "" : `WHERE ${tuple(keys)} > ${places(keys.length)}`;
  const params = after === null ? [] : after.map(decodeValue);
  const aliases = keys.map((_, i) => `k${i}`);
  // The page: the first `limit` rows after the key, cut where the running size passes the
  // budget (always at least one row); the last key tells the client where to go on.
  // (The LIMIT comes before the window, so the window spans one page, not the table's rest.)
  const head = aliases.join(", ");
  const sql =
    `WITH head AS (SELECT ${keys.map((k, i) => `${k} AS k${i}`).join(", ")}, ${size} AS size ` +
    `FROM ${t} ${where} ORDER BY ${order} LIMIT ?), ` +
    `paged AS (SELECT ${head}, ` +
    `sum(size) OVER (ORDER BY ${head} ROWS UNBOUNDED PRECEDING) AS running, ` +
    `row_number() OVER (ORDER BY ${head}) AS n FROM head), ` +
    `edge AS (SELECT ${aliases.join(", ")} FROM paged WHERE running <= ? OR n = 1 ` +
    `ORDER BY n DESC LIMIT 1) ` +
    `SELECT ${keys.join(", ")}, * FROM ${t} ${where ? where + " AND" : "WHERE"} ` +
    `${tuple(keys)} <= (SELECT ${aliases.join(", ")} FROM edge) ORDER BY ${order}`;
  const rows = await db
    .prepare(sql)
    .bind(...params, limit, budget, ...params)
    .raw();
  const lastRow = rows.length > 0 ? rows[rows.length - 1] : null;
  return {
    rows: rows.map((row) => row.slice(key.length).map(encodeValue)),
    last: lastRow === null ? null : lastRow.slice(0, key.length).map(encodeValue),
  };
}

// --- splitting a script -----------------------------------------------------------------
// Adapted from wrangler's src/d1/splitter.ts (MIT OR Apache-2.0), so `/exec` splits a
// script exactly as `wrangler d1 execute --file` and `wrangler d1 migrations apply` do.

export function splitSqlQuery(sql) {
  const statements = [];
  let str = "";
  const compoundStatementStack = [];
  const iterator = sql[Symbol.iterator]();
  let next = iterator.next();
  while (!next.done) {
    const char = next.value;
    if (compoundStatementStack[0]?.(str + char)) {
      compoundStatementStack.shift();
    }
    switch (char) {
      case `'`:
      case `"`:
      case "`":
        str += char + consumeUntilMarker(iterator, char);
        break;
      case `$`: {
        const dollarQuote = "$" + consumeWhile(iterator, isDollarQuoteIdentifier);
        str += dollarQuote;
        if (dollarQuote.endsWith("$")) {
          str += consumeUntilMarker(iterator, dollarQuote);
        }
        break;
      }
      case `-`:
        next = iterator.next();
        if (!next.done && next.value === "-") {
          consumeUntilMarker(iterator, "\n");
          str += "\n";
          break;
        } else {
          str += char;
          continue;
        }
      case `/`:
        next = iterator.next();
        if (!next.done && next.value === "*") {
          consumeUntilMarker(iterator, "*/");
          break;
        } else {
          str += char;
          continue;
        }
      case `;`:
        if (compoundStatementStack.length === 0) {
          statements.push(str);
          str = "";
        } else {
          str += char;
        }
        break;
      default:
        str += char;
        break;
    }
    if (isCompoundStatementStart(str)) {
      compoundStatementStack.unshift(isCompoundStatementEnd);
    }
    next = iterator.next();
  }
  statements.push(str);
  return statements.map((s) => s.trim()).filter((s) => s.length > 0);
}

function consumeWhile(iterator, predicate) {
  let next = iterator.next();
  let str = "";
  while (!next.done) {
    str += next.value;
    if (!predicate(str)) {
      break;
    }
    next = iterator.next();
  }
  return str;
}

function consumeUntilMarker(iterator, endMarker) {
  return consumeWhile(iterator, (str) => !str.endsWith(endMarker));
}

function isDollarQuoteIdentifier(str) {
  const lastChar = str.slice(-1);
  return lastChar !== "$" && (/[0-9_]/i.test(lastChar) || lastChar.toLowerCase() !== lastChar.toUpperCase());
}

function isCompoundStatementStart(str) {
  return /\s(BEGIN|CASE)\s$/i.test(str);
}

function isCompoundStatementEnd(str) {
  return /\sEND[;\s]$/.test(str);
}
