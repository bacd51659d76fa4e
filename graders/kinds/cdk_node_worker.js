// The CDK TypeScript/JavaScript synth worker: runs inside the sandbox, job after job.
//
// It loads aws-cdk-lib and the TypeScript compiler once, then for each job: copies the job's
// files from the read-only inbox into the job folder, type-checks the answer's TypeScript with a
// program that reuses the previous job's (aws-cdk-lib's .d.ts files are parsed once per worker),
// runs the app from transpiled CommonJS (TypeScript's transpileModule, no type check: what
// `ts-node --transpile-only` would run), captures the Apps the job creates (their auto-synth
// waits for `beforeExit`, which a long-lived process never reaches) and synthesizes them, and
// sends the cloud assembly's templates back in the result frame.
//
// Protocol: the grader's length-prefixed JSON frames (graders/sandbox/protocol.py) on fds 0/1,
// read and written with the fs functions captured at start. What a job prints goes to the job's
// log; a job that writes on fd 1 itself forges frames, which the grader's nonces expose.
//
// Between jobs: the job's modules leave require.cache (and the resolver's path cache), the
// environment, cwd and timers are reset, /tmp and /out are emptied; process.exit, reallyExit,
// abort and a kill of the worker itself throw in the job instead (cause "exited"); what the job
// prints is capped. A fingerprint of what a job must not change is compared after each job: the
// functions of the built-ins' prototypes, Node's modules, the worker's globals, the classes
// aws-cdk-lib and constructs export (prototypes and statics), require.cache, the process's
// listeners, live timers and handles, and (in the sandbox's own pid namespace) processes. A job
// that changed any is reported as tampering and the grader replaces the worker. The token registry and other aws-cdk-lib state
// grow with every job; the grader recycles the worker after a number of jobs or heap size.
'use strict';

const fs = require('fs');
const path = require('path');
const Module = require('module');

const TOOLCHAIN = process.env.IACGRADE_NODE_TOOLCHAIN;
const JOB = process.env.IACGRADE_JOB_DIR || '/job';
const OUT = process.env.IACGRADE_OUT_DIR || '/out';
const LOG = path.join(OUT, 'synth.log');
const readSync = fs.readSync;
const writeSync = fs.writeSync;
const BufferAlloc = Buffer.alloc;
const BufferFrom = Buffer.from;
const jsonStringify = JSON.stringify;
const jsonParse = JSON.parse;
const realReallyExit = process.reallyExit.bind(process);
const realKill = process.kill;
const realAbort = process.abort;
const reflectOwnKeys = Reflect.ownKeys;
const ownDescriptor = Reflect.getOwnPropertyDescriptor;
const reflectApply = Reflect.apply;
const reflectHas = Reflect.has;
const objectKeys = Object.keys;
const stringOf = String;
const activeResources = process.getActiveResourcesInfo;
const eventNames = process.eventNames;
const listenersOf = process.listeners;
const HEAP_RECYCLE = 1200 * 1024 * 1024;
// A full collection on demand, for the heap check only (not exposed to the answer's globals).
let collectGarbage = null;
try {
  require('v8').setFlagsFromString('--expose-gc');
  collectGarbage = require('vm').runInNewContext('gc');
} catch (_) { /* without it the check reads the heap as it is */ }
const now = performance.now.bind(performance);
const cpuUsage = process.cpuUsage.bind(process);
const cpuSeconds = (a, b) => Math.round((b.user - a.user + b.system - a.system) / 100) / 10000;
// Seconds a job spent in each phase (the result's `timing`): where a warm job's time goes.
let spans = {};
function spent(name, t0) {
  spans[name] = (spans[name] || 0) + (now() - t0) / 1000;
}
// aws-cdk-lib records where each construct was made (a stack trace, through the source maps of the
// answer's files) for the CLI's deploy errors: a third of a warm synth, in a manifest nothing reads.
const NO_CREATION_STACKS = { 'aws:cdk:disable-creation-stack-traces': true };
const DUMMY_ENV = { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'us-east-1' };

function req(name) {
  return require(require.resolve(name, { paths: [path.join(TOOLCHAIN, 'node_modules')] }));
}

// ---- frames ------------------------------------------------------------------------------------
function readExact(n) {
  const buf = BufferAlloc(n);
  let got = 0;
  while (got < n) {
    let k;
    try {
      k = readSync(0, buf, got, n - got, null);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      nap(); // a job made the pipe non-blocking: wait without spinning
      continue;
    }
    if (k === 0) realReallyExit(0);
    got += k;
  }
  return buf;
}

function readFrame() {
  const size = readExact(4).readUInt32BE(0);
  return jsonParse(readExact(size).toString('utf8'));
}

function writeFrame(msg) {
  const body = BufferFrom(jsonStringify(msg), 'utf8');
  const head = BufferAlloc(4);
  head.writeUInt32BE(body.length, 0);
  const all = Buffer.concat([head, body]);
  let off = 0;
  while (off < all.length) {
    try {
      off += writeSync(1, all, off, all.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      nap();
    }
  }
}

const napCell = new Int32Array(new SharedArrayBuffer(4));
function nap() {
  Atomics.wait(napCell, 0, 0, 2);
}

// ---- the job's output goes to its log ----------------------------------------------------------
let logFd = null;
// What a job may print: past it, the job's next print throws (an endless print loop ends there).
const LOG_CAP = 8 * 1024 * 1024;
let logBytes = 0;
class OutputLimit extends Error {}
function overLimit() {
  if (logBytes > LOG_CAP) throw new OutputLimit(`output limit exceeded: the app printed more than ${LOG_CAP >> 20} MB`);
}
function logWrite(chunk, encoding, cb) {
  try {
    const data = typeof chunk === 'string' ? BufferFrom(chunk) : chunk;
    logBytes += data.length;
    if (logFd !== null && logBytes <= LOG_CAP) writeSync(logFd, data);
  } catch (_) {
    /* a full log is the job's problem */
  }
  if (typeof encoding === 'function') encoding();
  else if (typeof cb === 'function') cb();
  return true;
}
// Never node's own stdout/stderr streams: making one sets the pipe non-blocking, and it would
// write on the protocol channel.
const { Writable } = require('stream');
for (const name of ['stdout', 'stderr']) {
  const stream = new Writable({ write: (chunk, enc, cb) => logWrite(chunk, cb) });
  stream.isTTY = false;
  stream.fd = name === 'stdout' ? 1 : 2;
  const write = stream.write;
  stream.write = function (...args) {
    overLimit(); // before the stream's own machinery, which must stay usable for the next job
    return write.apply(this, args);
  };
  Object.defineProperty(process, name, { value: stream, configurable: false, writable: false, enumerable: true });
}
// A console whose printing past the cap throws (node's own swallows its stream's errors).
const jobConsole = new (require('console').Console)({ stdout: process.stdout, stderr: process.stderr });
for (const key of ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir', 'table', 'dirxml', 'group', 'assert']) {
  const method = jobConsole[key];
  if (typeof method === 'function') {
    jobConsole[key] = function (...args) {
      overLimit();
      return method.apply(jobConsole, args);
    };
  }
}
Object.defineProperty(globalThis, 'console', { value: jobConsole, writable: true, configurable: true, enumerable: false });

// ---- warm-up -----------------------------------------------------------------------------------
const ts = req('typescript');
const cdk = req('aws-cdk-lib');
const sourceMaps = new Map(); // transpiled file -> source map text
req('source-map-support').install({
  environment: 'node',
  handleUncaughtExceptions: false,
  // Every job's files have the same paths (/job/lib/tap-stack.ts): a map cached for one job's
  // file would place the next job's errors on the earlier file's lines.
  emptyCacheBetweenOperations: true,
  retrieveSourceMap(file) {
    const map = sourceMaps.get(file);
    return map ? { url: file, map } : null;
  },
});
// `cdk init` apps begin with `import 'source-map-support/register'`. Support is installed above;
// running `register` again would install it with its defaults, which wrap process.emit, and the
// tamper check would then recycle the worker after every such answer. Its cache entry is an empty
// module, so the import is what it means here: nothing more to do.
{
  const registerPath = require.resolve('source-map-support/register', { paths: [path.join(TOOLCHAIN, 'node_modules')] });
  const registered = new Module(registerPath, null);
  registered.filename = registerPath;
  registered.loaded = true;
  Module._cache[registerPath] = registered;
}
const PRELOAD = [
  'aws-s3', 'aws-lambda', 'aws-iam', 'aws-ec2', 'aws-dynamodb', 'aws-apigateway', 'aws-logs',
  'aws-sqs', 'aws-sns', 'aws-sns-subscriptions', 'aws-cloudwatch', 'aws-cloudwatch-actions',
  'aws-kms', 'aws-events', 'aws-events-targets', 'aws-lambda-event-sources', 'aws-rds', 'aws-ecs',
  'aws-elasticloadbalancingv2', 'aws-secretsmanager', 'aws-ssm', 'aws-stepfunctions',
  'aws-cloudfront', 'aws-cloudfront-origins', 'aws-autoscaling', 'aws-wafv2', 'aws-cloudtrail',
  'aws-config', 'aws-route53', 'aws-certificatemanager', 'aws-lambda-nodejs',
];
// graceful-fs (through fs-extra) patches fs and process.chdir when aws-cdk-lib first stages an
// asset: load it now, before the fingerprint of what a job must not change is taken.
req(require.resolve('fs-extra', { paths: [path.dirname(require.resolve('aws-cdk-lib/package.json', { paths: [path.join(TOOLCHAIN, 'node_modules')] }))] }));
for (const m of PRELOAD) {
  try {
    req('aws-cdk-lib/' + m);
  } catch (_) {
    /* a submodule this aws-cdk-lib lacks */
  }
}

// ---- transpiling the job's files ---------------------------------------------------------------
const TRANSPILE = {
  module: ts.ModuleKind.CommonJS,
  target: ts.ScriptTarget.ES2022,
  esModuleInterop: true,
  allowJs: true,
  sourceMap: true,
  inlineSources: false,
  experimentalDecorators: true,
};

function inJob(file) {
  return file === JOB || file.startsWith(JOB + '/');
}

const syntaxErrors = [];
// Transpiled files by path and text: the scaffold's bin/tap.ts is the same in most jobs, and a job
// that is tried again (the dummy env, another entry) runs the same files. Output of a pure function
// of the text, never of the job: dropped whole when it grows.
const transpiled = new Map();
function transpile(filename, text) {
  const key = filename + '\0' + text;
  let hit = transpiled.get(key);
  if (hit === undefined) {
    // Under its .mjs/.mts name TypeScript would keep an ES module's imports: transpile it as .js/.ts.
    const asName = filename.replace(/\.[mc]js$/, '.js').replace(/\.[mc]ts$/, '.ts');
    const out = ts.transpileModule(text, {
      compilerOptions: TRANSPILE,
      fileName: asName,
      reportDiagnostics: true,
    });
    let map = null;
    if (out.sourceMapText) {
      const parsed = jsonParse(out.sourceMapText);
      parsed.sources = [filename];
      map = jsonStringify(parsed);
    }
    const errors = (out.diagnostics || []).filter((d) => d.category === ts.DiagnosticCategory.Error).map(diagnostic);
    hit = { code: out.outputText.replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n'), map, errors };
    if (transpiled.size >= 64) transpiled.clear();
    transpiled.set(key, hit);
  }
  return hit;
}

function compileJob(module, filename) {
  const t0 = now();
  const out = transpile(filename, fs.readFileSync(filename, 'utf8'));
  for (const e of out.errors) syntaxErrors.push(Object.assign({}, e));
  if (out.map) sourceMaps.set(filename, out.map);
  spent('transpile', t0);
  module._compile(out.code, filename, 'commonjs'); // never the ESM loader: it cannot forget a module
}

const plainJs = Module._extensions['.js'];
for (const ext of ['.ts', '.mts', '.cts', '.tsx', '.mjs', '.cjs']) {
  Module._extensions[ext] = compileJob;
}
Module._extensions['.js'] = function (module, filename) {
  if (inJob(filename)) return compileJob(module, filename);
  return plainJs(module, filename);
};
// --prefer-ts-exts: `import '../lib/x'` finds x.ts before a stale x.js beside it.
{
  const order = ['.ts', '.tsx', '.mts', '.cts'];
  const rest = Object.keys(Module._extensions).filter((e) => !order.includes(e));
  const handlers = Object.assign({}, Module._extensions);
  for (const k of Object.keys(Module._extensions)) delete Module._extensions[k];
  for (const k of [...order, ...rest]) Module._extensions[k] = handlers[k];
}

// ---- type checking -----------------------------------------------------------------------------
// The compiler options of a project made by `cdk init app --language typescript`, which is what
// the task's `npx ts-node --prefer-ts-exts bin/tap.ts` checks against (strict mode included).
const CHECK = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.CommonJS,
  lib: ['lib.es2022.d.ts'],
  strict: true,
  noImplicitAny: true,
  strictNullChecks: true,
  noImplicitThis: true,
  alwaysStrict: true,
  noImplicitReturns: true,
  noFallthroughCasesInSwitch: false,
  inlineSourceMap: true,
  experimentalDecorators: true,
  strictPropertyInitialization: false,
  esModuleInterop: true,
  skipLibCheck: true,
  noEmit: true,
  types: ['node'],
  typeRoots: [path.join(TOOLCHAIN, 'node_modules', '@types')],
};
const libFiles = new Map(); // file outside the job -> SourceFile, shared by every job's program
const baseHost = ts.createCompilerHost(CHECK, true);
// The answer's own package.json is not the harness's (and would make the shared caches stale).
const hidden = (f) => inJob(f) && path.basename(f) === 'package.json';
const checkHost = Object.assign({}, baseHost, {
  fileExists: (f) => !hidden(f) && baseHost.fileExists(f),
  readFile: (f) => (hidden(f) ? undefined : baseHost.readFile(f)),
  getSourceFile(fileName, languageVersion, onError, shouldCreate) {
    if (inJob(fileName)) return baseHost.getSourceFile(fileName, languageVersion, onError, shouldCreate);
    let sf = libFiles.get(fileName);
    if (sf === undefined) {
      sf = baseHost.getSourceFile(fileName, languageVersion, onError, shouldCreate);
      libFiles.set(fileName, sf);
    }
    return sf;
  },
});
// Answers import aws-cdk-lib, constructs and node's own modules from the toolchain. One module
// resolution cache for every job: its package.json lookups (thousands per program otherwise) are
// the bulk of a program's creation; the job's own imports are resolved afresh each time.
const resolutionCache = ts.createModuleResolutionCache(JOB, (x) => x, CHECK);
checkHost.getModuleResolutionCache = () => resolutionCache;
const resolveHost = {
  fileExists: (f) => checkHost.fileExists(f),
  readFile: (f) => checkHost.readFile(f),
  directoryExists: (d) => ts.sys.directoryExists(d),
  realpath: ts.sys.realpath,
  getCurrentDirectory: () => JOB,
};
const libResolved = new Map(); // (folder outside the job, module name) -> resolution, for every job
const libFileResolved = new Map(); // file outside the job -> [its module names, their resolutions]
checkHost.resolveModuleNames = function (names, containing) {
  if (inJob(containing)) return names.map((name) => resolveOne(name, containing));
  // A file of the toolchain asks the same names in every program (thousands of files each time).
  const hit = libFileResolved.get(containing);
  if (hit !== undefined && hit[0].length === names.length && hit[0].every((n, i) => n === names[i])) return hit[1];
  const out = names.map((name) => {
    const key = path.dirname(containing) + '\0' + name;
    if (!libResolved.has(key)) libResolved.set(key, resolveOne(name, containing));
    return libResolved.get(key);
  });
  libFileResolved.set(containing, [names.slice(), out]);
  return out;
};
function resolveOne(name, containing) {
  {
    const cache = inJob(containing) ? undefined : resolutionCache;
    let r = ts.resolveModuleName(name, containing, CHECK, resolveHost, cache).resolvedModule;
    if (!r && !name.startsWith('.') && !name.startsWith('/')) {
      r = ts.resolveModuleName(name, path.join(TOOLCHAIN, 'index.ts'), CHECK, resolveHost, resolutionCache).resolvedModule;
    }
    return r;
  }
}

// Paths of this machine never reach a report: the toolchain's and the job folder's are made relative.
function scrub(text) {
  let out = String(text).split(TOOLCHAIN + '/').join('').split(path.dirname(__filename) + '/').join('').split(JOB + '/').join('');
  if (TOOLCHAIN_REAL) out = out.split(TOOLCHAIN_REAL + '/').join('');
  return out;
}
let TOOLCHAIN_REAL = null; // where the toolchain's node_modules really are, when it is a link
try {
  const real = path.dirname(fs.realpathSync(path.join(TOOLCHAIN, 'node_modules')));
  if (real !== TOOLCHAIN) TOOLCHAIN_REAL = real;
} catch (_) { /* not there */ }

function diagnostic(d) {
  let file = null;
  let line = null;
  let column = null;
  if (d.file && d.start !== undefined) {
    const pos = d.file.getLineAndCharacterOfPosition(d.start);
    file = path.relative(JOB, d.file.fileName);
    line = pos.line + 1;
    column = pos.character + 1;
  }
  return {
    code: d.code,
    file,
    line,
    column,
    message: scrub(ts.flattenDiagnosticMessageText(d.messageText, '\n')).slice(0, 2000),
  };
}

function typeCheck(files) {
  const t0 = now();
  const roots = files.map((f) => path.join(JOB, f));
  const program = ts.createProgram({ rootNames: roots, options: CHECK, host: checkHost });
  spent('program', t0);
  const t1 = now();
  const out = [];
  for (const sf of program.getSourceFiles()) {
    if (!inJob(sf.fileName) || sf.isDeclarationFile) continue;
    const diags = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
    for (const d of diags) {
      if (d.category === ts.DiagnosticCategory.Error && out.length < 500) out.push(diagnostic(d));
    }
  }
  spent('diagnostics', t1);
  return { diagnostics: out, seconds: (now() - t0) / 1000 };
}

// ---- what a job must not change ----------------------------------------------------------------
// A fingerprint taken once the worker is warm: every function and accessor of the objects below
// (a patched method is another function), how many own properties the prototypes and Node's
// objects have (a new one can shadow or pollute), what aws-cdk-lib's and constructs' modules
// export (a replaced class), the modules require.cache holds, the process's listeners and its
// live timers and handles. Comparing it costs a few milliseconds per job.
const EventEmitter = require('events');
const NODE_MODULES = ['fs', 'path', 'os', 'crypto', 'util', 'stream', 'child_process', 'events', 'url', 'module', 'console', 'timers', 'buffer', 'zlib'];
const BUILTINS = [
  'Object', 'Array', 'Function', 'String', 'Number', 'Boolean', 'Symbol', 'BigInt', 'RegExp', 'Date',
  'Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'Map', 'Set', 'WeakMap', 'WeakSet',
  'Promise', 'Proxy', 'ArrayBuffer', 'Uint8Array', 'DataView', 'Buffer', 'URL', 'TextEncoder', 'TextDecoder',
];
function watchedModules() {
  const mods = [['aws-cdk-lib', cdk], ['constructs', req('constructs')]];
  for (const m of PRELOAD) {
    try {
      mods.push(['aws-cdk-lib/' + m, req('aws-cdk-lib/' + m)]);
    } catch (_) { /* a submodule this aws-cdk-lib lacks */ }
  }
  return mods;
}

function fingerprint() {
  const fp = { objs: [], entries: [], values: [], exports: [], cache: [], listeners: [], resources: null, seen: new Set() };
  // Objects the worker and aws-cdk-lib hold by identity, and a number that shapes every stack trace.
  for (const [obj, key, name] of [[Module, '_cache', 'require.cache itself'], [Module, '_pathCache', 'the module path cache itself'],
    [process, 'env', 'process.env itself'], [Error, 'stackTraceLimit', 'Error.stackTraceLimit']]) {
    const d = ownDescriptor(obj, key);
    if (d && 'value' in d) fp.values.push([obj, key, d.value, name]);
  }
  for (const key of reflectOwnKeys(globalThis)) {
    const d = ownDescriptor(globalThis, key);
    if (d && d.get) {
      try {
        void globalThis[key]; // node's lazy globals (TextEncoder, ...) become plain values on first use
      } catch (_) { /* one that refuses */ }
    }
  }
  watch(fp, 'globalThis', globalThis, true);
  for (const name of BUILTINS) {
    const ctor = globalThis[name];
    watch(fp, name, ctor, false);
    if (ctor && ctor.prototype) watch(fp, name + '.prototype', ctor.prototype, true);
  }
  for (const name of ['JSON', 'Math', 'Reflect', 'Atomics']) watch(fp, name, globalThis[name], true);
  watch(fp, 'process', process, true);
  watch(fp, 'console', jobConsole, true);
  watch(fp, 'EventEmitter.prototype', EventEmitter.prototype, true);
  for (const name of NODE_MODULES) watch(fp, name, require(name), true);
  watch(fp, 'Module.prototype', Module.prototype, true);
  watch(fp, 'Module._extensions', Module._extensions, true);
  watch(fp, 'ts', ts, false);
  for (const [modName, mod] of watchedModules()) {
    for (const key of Object.keys(mod)) {
      if (!/^[A-Z]/.test(key) && !(modName === 'aws-cdk-lib' && PRELOAD.includes(key.replace(/_/g, '-')))) continue;
      let value;
      try {
        value = mod[key]; // resolves aws-cdk-lib's lazy exports now, once
      } catch (_) {
        continue;
      }
      watchExport(fp, modName, mod, key, value);
    }
  }
  for (const [key, mod] of Object.entries(require.cache)) if (!inJob(key)) watchModule(fp, key, mod, false);
  for (const event of process.eventNames()) fp.listeners.push([event, process.listeners(event)]);
  fp.resources = resourceCounts();
  return fp;
}

// Every function and accessor of ``obj`` (and with ``counted`` how many own properties it has).
function watch(fp, name, obj, counted) {
  if (obj === null || (typeof obj !== 'object' && typeof obj !== 'function') || fp.seen.has(obj)) return;
  fp.seen.add(obj);
  const keys = reflectOwnKeys(obj);
  fp.objs.push([obj, name, counted ? keys.length : -1]);
  for (const key of keys) {
    const d = ownDescriptor(obj, key);
    if (!d) continue;
    if ('value' in d) {
      if (typeof d.value === 'function') fp.entries.push([obj, key, d.value, undefined, name]);
    } else {
      fp.entries.push([obj, key, d.get, d.set, name]);
    }
  }
}

function watchExport(fp, modName, mod, key, value) {
  fp.exports.push([mod, key, value, modName]);
  if (typeof value === 'function') {
    watch(fp, modName + '.' + key, value, false);
    if (value.prototype) watch(fp, modName + '.' + key + '.prototype', value.prototype, true);
  }
}

// A module of the toolchain: its cache entry, and the classes it exports as plain values (not
// its lazy getters: resolving them would load more). ``exports`` also for the classes' insides.
function watchModule(fp, key, mod, exportsToo) {
  fp.cache.push([key, mod, mod && mod.exports]);
  const exported = mod && mod.exports;
  if (!exportsToo || exported === null || (typeof exported !== 'object' && typeof exported !== 'function')) return;
  const name = scrub(key).replace(/^node_modules\//, '');
  for (const k of Object.keys(exported)) {
    const d = ownDescriptor(exported, k);
    if (d && 'value' in d && typeof d.value === 'function') watchExport(fp, name, exported, k, d.value);
  }
}

// A toolchain module first loaded during a job is watched as soon as it has loaded, before the
// job's code holds it: a patch of it, in this job or later, is seen like one of a preloaded module.
let baseline = null; // the fingerprint, taken once the worker is warm
const realLoad = Module.prototype.load;
Module.prototype.load = function (filename) {
  const out = realLoad.call(this, filename);
  if (baseline !== null && !inJob(filename)) watchModule(baseline, filename, this, true);
  return out;
};

function resourceCounts() {
  const counts = {};
  const list = reflectApply(activeResources, process, []);
  for (let i = 0; i < list.length; i++) counts[list[i]] = (counts[list[i]] || 0) + 1;
  return counts;
}

// Plain index loops and functions captured at start only: a job may have patched any built-in
// (an array iterator that yields nothing would otherwise blind every check below).
function tamperedSince(fp) {
  const changed = [];
  const note = (what) => {
    if (changed.length < 8) changed[changed.length] = what;
  };
  for (let i = 0; i < fp.objs.length; i++) {
    const [obj, name, count] = fp.objs[i];
    if (count >= 0 && reflectOwnKeys(obj).length !== count) note(name + ' (a property added or removed)');
  }
  for (let i = 0; i < fp.entries.length; i++) {
    const [obj, key, value, set, name] = fp.entries[i];
    const d = ownDescriptor(obj, key);
    const isValue = d !== undefined && reflectHas(d, 'value');
    if (d === undefined || (isValue ? d.value : d.get) !== value || (isValue ? undefined : d.set) !== set) {
      note(name + '.' + stringOf(key));
    }
  }
  for (let i = 0; i < fp.values.length; i++) {
    const [obj, key, value, name] = fp.values[i];
    const d = ownDescriptor(obj, key);
    if (d === undefined || d.value !== value) note(name);
  }
  for (let i = 0; i < fp.exports.length; i++) {
    const [mod, key, value, name] = fp.exports[i];
    let now;
    try {
      now = mod[key];
    } catch (_) {
      now = undefined;
    }
    if (now !== value) note(name + ' export ' + key);
  }
  const cache = Module._cache;
  for (let i = 0; i < fp.cache.length; i++) {
    const [key, mod, exports] = fp.cache[i];
    const now = cache[key];
    if (now !== mod || (now && now.exports !== exports)) note('require.cache ' + scrub(key));
  }
  const pathCache = Module._pathCache || {};
  const keys = objectKeys(pathCache);
  for (let i = 0; i < keys.length; i++) {
    const to = '' + pathCache[keys[i]];
    let allowed = inJob(keys[i]);
    for (let j = 0; j < ALLOWED_ROOTS.length && !allowed; j++) allowed = to.slice(0, ALLOWED_ROOTS[j].length) === ALLOWED_ROOTS[j];
    if (!allowed) note('module path cache ' + scrub(to));
  }
  const events = reflectApply(eventNames, process, []);
  if (events.length !== fp.listeners.length) note('process listeners (' + events.length + ' events)');
  for (let i = 0; i < fp.listeners.length; i++) {
    const [event, listeners] = fp.listeners[i];
    const now = reflectApply(listenersOf, process, [event]);
    let same = now.length === listeners.length;
    for (let j = 0; same && j < now.length; j++) same = now[j] === listeners[j];
    if (!same) note('process listeners of ' + stringOf(event));
  }
  const resources = resourceCounts();
  const names = objectKeys(resources);
  let left = '';
  for (let i = 0; i < names.length; i++) if (resources[names[i]] > (fp.resources[names[i]] || 0)) left += (left ? ', ' : '') + names[i];
  if (left) note('timers or handles left running: ' + left);
  return changed;
}

// Where the worker's modules may resolve to: the toolchain (its node_modules may be a link), the worker.
const ALLOWED_ROOTS = [TOOLCHAIN + '/', path.dirname(__filename) + '/'];
try {
  ALLOWED_ROOTS.push(fs.realpathSync(path.join(TOOLCHAIN, 'node_modules')) + '/');
} catch (_) { /* not there */ }

// Processes of the sandbox's own pid namespace (init is 1, the worker 2) that outlive the job.
function strayProcesses() {
  const stray = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid || pid === 1 || pid === process.ppid) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/^Z/.test(stat.slice(stat.lastIndexOf(')') + 2))) continue; // exited, its parent reaps it
    } catch (_) {
      continue;
    }
    stray.push(pid);
  }
  return stray;
}

// ---- one job -----------------------------------------------------------------------------------
const baseEnv = Object.assign({}, process.env);
const realExit = process.exit;
const realReallyExitOwn = process.reallyExit;
const realOnce = process.once;
const realOn = process.on;
const realSetTimeout = global.setTimeout;
const realSetInterval = global.setInterval;
const realSetImmediate = global.setImmediate;
const realRandom = Math.random;
const imul = Math.imul;

// Math.random while an app runs: the same sequence on every run (mulberry32 from a fixed seed,
// started afresh for each attempt), so an answer that names its resources with it gets the same
// template, and the same grade, warm or cold, today or next release.
function seededRandom() {
  let state = 0x1acc6ade;
  return function random() {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class ExitCalled extends Error {}

function resetEnv(extra) {
  for (const k of Object.keys(process.env)) delete process.env[k];
  Object.assign(process.env, baseEnv, extra);
}

function copyTree(from, to) {
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, entry.name);
    const b = path.join(to, entry.name);
    if (entry.isDirectory()) {
      fs.mkdirSync(b, { recursive: true });
      copyTree(a, b);
    } else if (entry.isFile()) {
      fs.copyFileSync(a, b);
    }
  }
}

function emptyDir(dir) {
  for (const name of fs.readdirSync(dir)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
}

function forgetJobModules() {
  for (const key of Object.keys(require.cache)) if (inJob(key)) delete require.cache[key];
  // The resolver's cache maps (request, parent folder) to a file: a later job may lay out other files.
  const cache = Module._pathCache;
  if (cache) for (const key of Object.keys(cache)) if (key.includes(JOB)) delete cache[key];
  for (const key of sourceMaps.keys()) if (inJob(key)) sourceMaps.delete(key);
}

function frames(err) {
  const stack = String((err && err.stack) || '');
  const out = [];
  // One character class for the whole path: `(?:\/[^...]+)+` splits a path of n slashes 2^n ways
  // before it gives up, and aws-cdk-lib's circular-reference error quotes a path of hundreds.
  const re = /\(?(\/[^\s():]+):(\d+):(\d+)\)?/g;
  let m;
  while ((m = re.exec(stack)) && out.length < 30) {
    const file = m[1];
    out.push([inJob(file) ? path.relative(JOB, file) : file, Number(m[2]), inJob(file)]);
  }
  return out;
}

function describeError(err) {
  const type = (err && err.constructor && err.constructor.name) || typeof err;
  const message = err && err.message !== undefined ? String(err.message) : String(err);
  return {
    type: err instanceof ExitCalled ? 'ProcessExit' : type,
    message: scrub(message).slice(0, 4000),
    code: err && typeof err.code === 'string' ? err.code : null,
    stack: scrub((err && err.stack) || '').slice(0, 8000),
    frames: frames(err),
  };
}

function tick() {
  return new Promise((resolve) => realSetImmediate(resolve));
}

async function runEntry(entry, context, env, outdir, timers) {
  // A fresh module registry for the job's files; the environment as `cdk synth` sets it.
  const t0 = now();
  forgetJobModules();
  emptyDir(outdir);
  resetEnv(Object.assign({}, env, {
    CDK_CONTEXT_JSON: jsonStringify(Object.assign({}, context, NO_CREATION_STACKS)),
    CDK_OUTDIR: outdir,
    CDK_CLI_VERSION: '2.1000.0',
  }));
  process.chdir(JOB);
  Math.random = seededRandom();
  const apps = [];
  const exits = [];
  const capture = (event, listener) => event === 'beforeExit' ? (exits.push(listener), process) : null;
  process.once = function (event, listener) {
    return capture(event, listener) || realOnce.call(process, event, listener);
  };
  process.on = function (event, listener) {
    return capture(event, listener) || realOn.call(process, event, listener);
  };
  const appsBefore = new Set();
  spent('reset', t0);
  const t1 = now();
  try {
    if (entry === null) {
      driver(apps);
    } else {
      require(path.join(JOB, entry));
    }
    // Let an async main() go on: a few turns of the event loop, then its promises have settled.
    for (let i = 0; i < 20; i++) await tick();
    spent('run', t1);
    const t2 = now();
    for (const listener of exits) listener();
    for (const app of apps) app.synth();
    spent('app_synth', t2);
  } finally {
    delete process.once; // back to EventEmitter's own
    delete process.on;
    if (process.once !== realOnce) process.once = realOnce;
    if (process.on !== realOn) process.on = realOn;
    for (const t of timers.splice(0)) {
      clearTimeout(t);
      clearInterval(t);
      clearImmediate(t);
    }
  }
  void appsBefore;
}

// Without an app of its own that works: every exported Stack class of the answer's files, each in
// one App (TapStack alone when there is one).
function driver(apps) {
  const app = new cdk.App();
  apps.push(app);
  const stacks = [];
  let failed = null;
  for (const file of driverFiles) {
    let mod;
    try {
      mod = require(path.join(JOB, file));
    } catch (e) {
      failed = failed || e;
      continue;
    }
    for (const [name, value] of Object.entries(mod || {})) {
      if (typeof value === 'function' && value.prototype instanceof cdk.Stack && !(value.prototype instanceof cdk.NestedStack)) {
        stacks.push([name, value]);
      }
    }
  }
  const chosen = stacks.filter(([n]) => n === 'TapStack');
  const use = chosen.length ? chosen : stacks;
  if (!use.length && failed) throw failed;
  if (!use.length) throw Object.assign(new Error('no exported Stack class in the answer'), { code: 'NO_STACK_CLASS' });
  let made = 0;
  let first = null;
  for (const [name, Cls] of use) {
    try {
      new Cls(app, name, { env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION }, environmentSuffix: 'dev' });
      made++;
    } catch (e) {
      first = first || e;
    }
  }
  if (!made && first) throw first;
}
let driverFiles = [];

function readAssembly(dir, out, depth) {
  let manifest;
  try {
    const raw = fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8');
    if (depth === 0) out.manifest = raw;
    manifest = jsonParse(raw);
  } catch (_) {
    return;
  }
  for (const item of manifest.missing || []) out.missing.push(`${item.provider}: ${item.key}`);
  for (const [id, art] of Object.entries(manifest.artifacts || {})) {
    const props = art.properties || {};
    if (art.type === 'aws:cloudformation:stack' && props.templateFile && !props.templateFile.includes('/')) {
      try {
        out.templates[String(props.stackName || id)] = fs.readFileSync(path.join(dir, props.templateFile), 'utf8');
      } catch (_) { /* not written */ }
    } else if (art.type === 'cdk:asset-manifest') {
      try {
        const assets = jsonParse(fs.readFileSync(path.join(dir, String(props.file || '')), 'utf8'));
        for (const key of Object.keys(assets.dockerImages || {})) out.docker_images.push(`docker image asset ${key.slice(0, 12)}`);
      } catch (_) { /* none */ }
    } else if (art.type === 'cdk:cloud-assembly' && depth < 3) {
      const sub = String(props.directoryName || '');
      if (sub && !sub.includes('/') && !sub.includes('..')) readAssembly(path.join(dir, sub), out, depth + 1);
    }
  }
  for (const name of fs.readdirSync(dir)) {
    if (name.endsWith('.nested.template.json')) {
      const stack = name.slice(0, -'.template.json'.length);
      if (!(stack in out.templates)) out.templates[stack] = fs.readFileSync(path.join(dir, name), 'utf8');
    }
  }
}

// The same errors as the Python pool's (graders/sandbox/classify.py), and a few CDK words it adds for TypeScript.
const ENV_REQUIRED = /account\/region are not specified|StackAccountRegionNotSpecified|requires an? (explicit )?(account|region|env)|needs? an? (account|region|environment)|Cannot (retrieve|determine) .*region|unresolved .*region|region-agnostic|environment-agnostic|env-agnostic|"env" with an account|Region is required|Unable to resolve AWS account|explicitly set region|\$\{token\[aws\.(region|accountid)/i;
const MISSING_ASSET = /Cannot find asset at (\S+)|ENOENT: no such file or directory, (?:stat|open|lstat|scandir) '([^']+)'/;

async function job(msg) {
  const t0 = Date.now();
  const timing = {};
  const cpu0 = cpuUsage();
  spans = {};
  emptyDir(JOB);
  copyTree(IN, JOB);
  // NodejsFunction wants a lock file in the project (bundling itself is off, as under `cdk synth
  // --exclusively` of other stacks): the harness's project has one, as `cdk init` makes.
  const locks = ['package-lock.json', 'yarn.lock', 'pnpm-lock.yaml', 'bun.lockb', 'bun.lock'];
  if (!locks.some((f) => fs.existsSync(path.join(JOB, f)))) {
    fs.writeFileSync(path.join(JOB, 'package-lock.json'), '{"name": "tap", "lockfileVersion": 3, "requires": true, "packages": {}}\n');
  }
  if (logFd !== null) fs.closeSync(logFd);
  logFd = fs.openSync(LOG, 'w');
  logBytes = 0;
  timing.copy = (Date.now() - t0) / 1000;
  driverFiles = msg.driver_files || [];
  const result = { op: 'result', nonce: msg.nonce, fallbacks: [], attempts: [] };
  const timers = [];
  const track = (real) => function (...args) {
    const t = real.apply(this, args);
    timers.push(t);
    return t;
  };
  global.setTimeout = track(realSetTimeout);
  global.setInterval = track(realSetInterval);
  global.setImmediate = track(realSetImmediate);
  // The ways out of a Node process an app can call: each ends the job instead, not the worker.
  process.exit = (code) => {
    throw new ExitCalled(`the app called process.exit(${code === undefined ? '' : code})`);
  };
  process.reallyExit = (code) => {
    throw new ExitCalled(`the app called process.reallyExit(${code === undefined ? '' : code})`);
  };
  process.abort = () => {
    throw new ExitCalled('the app called process.abort()');
  };
  process.kill = function (pid, sig) {
    const target = Number(pid);
    if ([process.pid, process.ppid, 0, -1].includes(target)) {
      throw new ExitCalled(`the app called process.kill(${pid}${sig === undefined ? '' : ', ' + String(sig)}) on the worker`);
    }
    return realKill.call(process, pid, sig);
  };
  const outdir = path.join('/tmp', 'cdk.out');
  fs.mkdirSync(outdir, { recursive: true });
  let env = {};
  const stubs = [];
  const candidates = [...(msg.entries || []), null];
  let error = null;
  const t1 = Date.now();
  try {
    for (let i = 0; i < candidates.length; ) {
      const entry = candidates[i];
      syntaxErrors.length = 0;
      try {
        await runEntry(entry, msg.context || {}, env, outdir, timers);
        const tc = now();
        const out = { templates: {}, manifest: null, missing: [], docker_images: [] };
        readAssembly(outdir, out, 0);
        spent('collect', tc);
        if (Object.keys(out.templates).length === 0) {
          throw Object.assign(new Error('the app ran but synthesized no stack'), { code: 'NO_STACKS' });
        }
        result.outputs = out;
        result.entry = entry;
        error = null;
        if (syntaxErrors.length) {
          // The transpiler recovered, but no TypeScript or JavaScript tool would run this file.
          const first = syntaxErrors[0];
          result.error = { type: 'SyntaxError', message: `${first.file}:${first.line}: ${first.message}`, code: null, frames: [], syntax: syntaxErrors.slice(0, 5), entry };
        }
        break;
      } catch (err) {
        const described = describeError(err);
        if (syntaxErrors.length) described.syntax = syntaxErrors.slice(0, 5);
        const text = described.message;
        const asset = MISSING_ASSET.exec(text);
        if (!env.CDK_DEFAULT_ACCOUNT && (ENV_REQUIRED.test(text) || envMayMatter(described))) {
          env = DUMMY_ENV;
          result.fallbacks.push('dummy-env');
          result.dummy_env = true;
          continue;
        }
        const assetPath = asset && path.resolve(JOB, asset[1] || asset[2]); // CDK resolves a relative asset from cwd
        if (assetPath && inJob(assetPath) && stubs.length < 5 && !stubs.includes(assetPath)) {
          stubs.push(assetPath);
          stubAsset(assetPath);
          result.fallbacks.push('stub-asset:' + path.relative(JOB, assetPath));
          continue;
        }
        described.entry = entry;
        result.attempts.push(described);
        error = error || described;
        if (harnessMismatch(described, entry)) {
          error = error === described ? null : error;
          if (error === null) error = described;
        }
        if (i + 1 < candidates.length) result.fallbacks.push(candidates[i + 1] === null ? 'driver' : 'entry:' + candidates[i + 1]);
        i++;
      }
    }
  } finally {
    const tr = now();
    global.setTimeout = realSetTimeout;
    global.setInterval = realSetInterval;
    global.setImmediate = realSetImmediate;
    process.exit = realExit;
    process.reallyExit = realReallyExitOwn;
    process.abort = realAbort;
    process.kill = realKill;
    Math.random = realRandom;
    forgetJobModules();
    resetEnv({});
    try {
      process.chdir(JOB);
    } catch (_) { /* the job removed it */ }
    spent('reset', tr);
  }
  timing.synth = (Date.now() - t1) / 1000;
  const cpu1 = cpuUsage();
  if (error && !result.outputs) result.error = pickError(result.attempts);
  if (msg.typecheck) {
    // What `ts-node bin/tap.ts` checks: the entry that ran and what it imports (else the first
    // tried). When the scaffold's entry could not even import the answer's module (the answer named
    // its stack otherwise), checking it says only that: the answer's own files are checked instead.
    const first = result.attempts[0];
    const mismatch = !result.outputs && first !== undefined && harnessMismatch(first, first.entry);
    const ran = result.outputs ? result.entry : mismatch ? null : candidates[0];
    const roots = (ran ? [ran] : driverFiles).filter((f) => /\.[cm]?tsx?$/.test(f));
    if (roots.length) {
      try {
        const checked = typeCheck(roots);
        result.diagnostics = checked.diagnostics;
        timing.typecheck = checked.seconds;
      } catch (err) {
        // The compiler runs in the worker, after the job: a job that broke what it relies on
        // (a built-in's prototype, say) breaks it. The template stands; the worker is replaced.
        result.recycle = 'the type check failed: ' + describeError(err).message.slice(0, 200);
      }
    }
  }
  if (result.outputs) result.fallbacks = result.fallbacks.filter((f) => result.attempts.length || !f.startsWith('entry:'));
  result.stubs = stubs.map((s) => path.relative(JOB, s));
  const ts0 = now();
  cleanScratch();
  spent('scratch', ts0);
  const tt = now();
  const changed = tamperedSince(baseline);
  if (changed.length) result.tampered = ['changed: ' + changed.join(', ')];
  if (SANDBOXED) {
    const stray = strayProcesses();
    if (stray.length) result.tampered = [...(result.tampered || []), `processes left running: ${stray.length}`];
  }
  spent('tamper', tt);
  // heapUsed counts garbage V8 has not collected yet (it collects lazily under a 2 GB limit): past
  // the mark, one full collection (~0.3 s) says whether the heap really holds that much. Measured on
  // the cdk-ts corpus: 1.2 GB used was ~0.67 GB live, and a new worker costs ~6 s to warm.
  let heap = process.memoryUsage().heapUsed;
  if (heap > HEAP_RECYCLE && collectGarbage) {
    const tg = now();
    collectGarbage();
    spent('gc', tg);
    heap = process.memoryUsage().heapUsed;
  }
  if (heap > HEAP_RECYCLE) result.recycle = `heap ${Math.round(heap / 1048576)} MB live`;
  for (const [name, seconds] of Object.entries(spans)) timing[name] = Math.round(seconds * 10000) / 10000;
  // CPU seconds (all threads, the garbage collector's included): steadier than wall time on a busy machine.
  timing.cpu_synth = cpuSeconds(cpu0, cpu1);
  timing.cpu = cpuSeconds(cpu0, cpuUsage());
  result.timing = timing;
  return result;
}

// `cdk synth` always hands the app a region (CDK_DEFAULT_REGION: the configured one, else
// us-east-1) and, in the task's pipeline, which has credentials, an account. An env-agnostic run
// is the harness's choice, so any error it hits is tried again with the dummy env before it is
// the answer's (`this.region.replace(...)` in a KMS alias name fails only on the unresolved
// token). Errors the environment cannot change are not retried.
function envMayMatter(err) {
  if (err.type === 'SyntaxError' || err.type === 'ProcessExit' || err.syntax) return false;
  return !['MODULE_NOT_FOUND', 'NO_STACKS', 'NO_STACK_CLASS'].includes(err.code);
}

// A failure that says the entry does not fit the answer, rather than that the answer is wrong:
// the scaffold's app imports a module the answer never wrote, or the app made no stack.
function harnessMismatch(err, entry) {
  if (err.code === 'NO_STACKS') return true;
  if (err.code === 'MODULE_NOT_FOUND' && entry && /Cannot find module '\.\.?\//.test(err.message)) {
    const top = err.frames.find((f) => f[2]);
    return !top || top[0] === entry;
  }
  return false;
}

// The failure to report: the first that is the answer's own, else the first.
function pickError(attempts) {
  const own = attempts.find((a) => !harnessMismatch(a, a.entry) && a.code !== 'NO_STACK_CLASS');
  return own || attempts[0] || null;
}

function stubAsset(p) {
  if (/\.[A-Za-z0-9]{1,5}$/.test(p)) {
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, '// placeholder created by iacgrade: the answer never provides this asset\n');
  } else {
    fs.mkdirSync(p, { recursive: true });
    fs.writeFileSync(path.join(p, 'index.js'), '// placeholder created by iacgrade\n');
  }
}

function warmSynth() {
  const outdir = path.join('/tmp', 'warm.out');
  const app = new cdk.App({ outdir });
  const stack = new cdk.Stack(app, 'Warm');
  const lambda = req('aws-cdk-lib/aws-lambda');
  new (req('aws-cdk-lib/aws-s3').Bucket)(stack, 'Data', { versioned: true });
  new (req('aws-cdk-lib/aws-sqs').Queue)(stack, 'Jobs');
  new lambda.Function(stack, 'Fn', {
    runtime: lambda.Runtime.NODEJS_20_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => 1;'),
  });
  app.synth();
  fs.rmSync(outdir, { recursive: true, force: true });
}

let IN = '/in';
let SANDBOXED = false; // in bubblewrap: a private /tmp and a pid namespace of its own

// What a job left in the scratch folders would fill them for the next one (they are bounded).
function cleanScratch() {
  if (!SANDBOXED) return;
  for (const dir of ['/tmp', OUT]) {
    let names = [];
    try {
      names = fs.readdirSync(dir);
    } catch (_) {
      continue;
    }
    for (const name of names) {
      if (dir === OUT && (name === 'synth.log' || name === 'worker.log')) continue;
      try {
        fs.rmSync(path.join(dir, name), { recursive: true, force: true });
      } catch (_) { /* not ours to remove */ }
    }
  }
}

async function main() {
  const hello = readFrame();
  if (hello.op !== 'hello') realReallyExit(2);
  IN = hello.in_dir || IN;
  SANDBOXED = Boolean(hello.private_tmp);
  // Warm the type checker on a tiny program: aws-cdk-lib's declarations get parsed now, not in job 1.
  const warm = Date.now();
  try {
    fs.mkdirSync(path.join(JOB, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(JOB, 'bin', 'warm.ts'), "import * as cdk from 'aws-cdk-lib';\nimport * as s3 from 'aws-cdk-lib/aws-s3';\nnew s3.Bucket(new cdk.Stack(new cdk.App(), 'W'), 'B');\n");
    typeCheck(['bin/warm.ts']);
    emptyDir(JOB);
  } catch (_) { /* checked again per job */ }
  // One synth before the fingerprint: aws-cdk-lib hooks its profiling into fs and child_process on
  // an App's first synth, and node defines some things on first use.
  try {
    warmSynth();
  } catch (_) { /* each job reports its own failures */ }
  baseline = fingerprint();
  writeFrame({ op: 'ready', node: process.version, cdk: req('aws-cdk-lib/package.json').version, ts: ts.version, warmup: (Date.now() - warm) / 1000 });
  for (;;) {
    const msg = readFrame();
    if (msg.op === 'job') {
      let result;
      try {
        result = await job(msg);
      } catch (err) {
        // The worker itself failed on this job: whatever the job changed, it is not trusted again.
        const described = describeError(err);
        result = { op: 'result', nonce: msg.nonce, error: described, harness: true, recycle: 'the worker failed: ' + described.message.slice(0, 200) };
      }
      writeFrame(result);
    } else if (msg.op === 'sync') {
      writeFrame({ op: 'synced', nonce: msg.nonce });
    } else if (msg.op === 'stop') {
      realReallyExit(0);
    }
  }
}

main().catch((err) => {
  try {
    fs.writeFileSync(path.join(OUT, 'worker.log'), String((err && err.stack) || err));
  } catch (_) { /* nowhere to say it */ }
  realReallyExit(3);
});
