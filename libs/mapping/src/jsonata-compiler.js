'use strict';
/*
 * A synchronous compiler for JSONata expressions: the AST that the jsonata package parses is turned
 * into nested JavaScript closures once, and evaluated without promises.
 *
 * Why: jsonata 2.x evaluates every AST node with `await`, looks up two debugger hooks per node and
 * walks its frame chain for each; on a ~3 KB order the Shopify mapping costs ~1.8 ms of CPU, about
 * 90 times the hand-written baseline. The same expression compiled here costs a small fraction.
 *
 * Semantics are jsonata's own, not a re-interpretation:
 *  - every evaluation rule below is a synchronous port of the matching function in jsonata 2.2
 *    (evaluatePath, evaluateStep, evaluateFilter, evaluateGroupExpression, ...), kept in its order;
 *  - built-in functions are jsonata's own implementations and signature validators, taken from the
 *    package at load time; only the four regex functions that jsonata declares async ($contains,
 *    $split, $replace, $match) are ported, line for line;
 *  - whatever this compiler does not cover (focus/index binding, parent operator, sort, transform,
 *    partial application, $eval, $now, higher-order built-ins such as $map) makes `compile` refuse
 *    the expression, and the caller keeps using jsonata itself;
 *  - any error during a compiled evaluation is a signal to re-run the expression with jsonata, so
 *    error codes and messages always come from jsonata.
 * The mapping tests run every golden fixture and a corpus of tricky expressions through both
 * engines and require identical output (test/unit/jsonata-compiler.spec.ts).
 *
 * Plain JavaScript because it runs inside the mapping worker threads, which load it without a
 * TypeScript loader, in tests as well as in the build.
 */

/** Thrown at compile time for a construct this compiler does not cover. */
class UnsupportedExpression extends Error {
  constructor(reason) {
    super(reason);
    this.name = 'UnsupportedExpression';
  }
}

/** Built-ins that jsonata implements asynchronously and that are ported below. */
const PORTED_ASYNC = ['contains', 'split', 'replace', 'match'];
/** Names that make an expression fall back to jsonata: async built-ins without a port, and per-call clocks. */
const UNSUPPORTED_FUNCTIONS = new Set(['map', 'filter', 'single', 'reduce', 'sift', 'each', 'sort', 'eval', 'now', 'millis']);

const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

/** Node types whose own result can be an uncollapsed sequence (a lookup over an array, a built-in's result, a range). */
const MAY_YIELD_SEQUENCE = (expr) =>
  ['path', 'name', 'function', 'wildcard', 'descendant', 'apply'].includes(expr.type) || (expr.type === 'binary' && expr.value === '..');

// ---- sequences and value helpers (jsonata utils) ----------------------------------------------

function createSequence() {
  const sequence = [];
  sequence.sequence = true;
  return sequence;
}

/** jsonata's createSequence(x): a one-item sequence, even when x is undefined. */
function sequenceOf(item) {
  const sequence = [item];
  sequence.sequence = true;
  return sequence;
}

// Type checks first: reading a property off a string or number primitive boxes it.
const isSequence = (value) => Array.isArray(value) && value.sequence === true;

function isNumeric(n) {
  if (typeof n !== 'number') return false;
  const isNum = !isNaN(n);
  if (isNum && !isFinite(n)) throw { code: 'D1001', value: n };
  return isNum;
}

const isArrayOfNumbers = (arg) => Array.isArray(arg) && arg.filter((item) => !isNumeric(item)).length === 0;
const isFunction = (arg) => typeof arg === 'function' || (typeof arg === 'object' && arg !== null && (arg._jsonata_function === true || arg._jsonata_lambda === true));
const isLambda = (arg) => arg && arg._jsonata_lambda === true;

function isDeepEqual(lhs, rhs) {
  if (lhs === rhs) return true;
  if (typeof lhs === 'object' && typeof rhs === 'object' && lhs !== null && rhs !== null) {
    if (Array.isArray(lhs) && Array.isArray(rhs)) {
      if (lhs.length !== rhs.length) return false;
      for (let i = 0; i < lhs.length; i++) if (!isDeepEqual(lhs[i], rhs[i])) return false;
      return true;
    }
    const lkeys = Object.getOwnPropertyNames(lhs).sort();
    const rkeys = Object.getOwnPropertyNames(rhs).sort();
    if (lkeys.length !== rkeys.length) return false;
    for (let i = 0; i < lkeys.length; i++) if (lkeys[i] !== rkeys[i]) return false;
    for (const key of lkeys) if (!isDeepEqual(lhs[key], rhs[key])) return false;
    return true;
  }
  return false;
}

/** jsonata's getSymbol (signature.js): one letter per argument type. */
function symbolOf(value) {
  if (isFunction(value)) return 'f';
  switch (typeof value) {
    case 'string': return 's';
    case 'number': return 'n';
    case 'boolean': return 'b';
    case 'object': return value === null ? 'l' : Array.isArray(value) ? 'a' : 'o';
    default: return 'm';
  }
}

function getFunctionArity(func) {
  if (typeof func.arity === 'number') return func.arity;
  if (typeof func.implementation === 'function') return func.implementation.length;
  if (typeof func.length === 'number') return func.length;
  return func.params.length;
}

/** A variable scope, like jsonata's createFrame. */
class Frame {
  constructor(parent) {
    this.parent = parent;
    this.bindings = new Map();
  }
  bind(name, value) {
    this.bindings.set(name, value);
  }
  lookup(name) {
    for (let frame = this; frame; frame = frame.parent) {
      if (frame.bindings.has(name)) return frame.bindings.get(name);
    }
    return undefined;
  }
}

// ---- the compiler -------------------------------------------------------------------------------

/**
 * Prepares a compiler bound to one jsonata module. Async because jsonata only hands out its
 * built-in definitions through evaluation.
 */
async function createJsonataCompiler(jsonata) {
  const builtinNames = [
    'sum', 'count', 'max', 'min', 'average', 'string', 'substring', 'substringBefore', 'substringAfter',
    'lowercase', 'uppercase', 'length', 'trim', 'pad', 'match', 'contains', 'replace', 'split', 'join',
    'formatNumber', 'formatBase', 'formatInteger', 'parseInteger', 'number', 'floor', 'ceil', 'round',
    'abs', 'sqrt', 'power', 'random', 'boolean', 'not', 'zip', 'keys', 'lookup', 'append', 'exists',
    'spread', 'merge', 'reverse', 'error', 'assert', 'type', 'shuffle', 'distinct', 'base64encode',
    'base64decode', 'encodeUrlComponent', 'encodeUrl', 'decodeUrlComponent', 'decodeUrl', 'toMillis',
    'fromMillis', 'clone',
  ];
  const builtins = new Frame(undefined);
  for (const name of builtinNames) {
    const definition = await jsonata('$' + name).evaluate({});
    if (!definition || definition._jsonata_function !== true) throw new Error(`jsonata has no built-in $${name}`);
    const implementation = definition.implementation;
    const isAsync = implementation.constructor && implementation.constructor.name === 'AsyncFunction';
    if (isAsync && !PORTED_ASYNC.includes(name)) throw new Error(`jsonata's $${name} is async and has no synchronous port`);
    builtins.bind(name, definition);
  }
  const native = (name) => builtins.lookup(name).implementation;
  const fnString = native('string');
  const fnBoolean = native('boolean');
  const fnLookup = native('lookup');
  const fnAppend = native('append');
  const sequenceFocus = { createSequence: (...args) => (args.length === 1 ? sequenceOf(args[0]) : createSequence()) };
  const lookup = (input, key) => fnLookup.call(sequenceFocus, input, key);
  const append = (a, b) => fnAppend.call(sequenceFocus, a, b);
  const boolize = (value) => {
    const b = fnBoolean(value);
    return b === undefined ? false : b;
  };

  // Synchronous ports of jsonata's async regex built-ins (functions.js: contains, match, replace, split).
  const ports = new Map();
  function evaluateMatcher(matcher, str) {
    const result = matcher.apply(this, [str]);
    if (result && !(typeof result.start === 'number' || result.end === 'number' || Array.isArray(result.groups) || isFunction(result.next))) {
      throw { code: 'T1010' };
    }
    return result;
  }
  ports.set('contains', function contains(str, token) {
    if (typeof str === 'undefined' || typeof token === 'undefined') return undefined;
    if (typeof token === 'string') return str.indexOf(token) !== -1;
    return typeof evaluateMatcher(token, str) !== 'undefined';
  });
  ports.set('match', function match(str, regex, limit) {
    if (typeof str === 'undefined') return undefined;
    if (limit < 0) throw { value: limit, code: 'D3040', index: 3 };
    const result = createSequence();
    if (typeof limit === 'undefined' || limit > 0) {
      let count = 0;
      let matches = evaluateMatcher(regex, str);
      while (typeof matches !== 'undefined' && (typeof limit === 'undefined' || count < limit)) {
        result.push({ match: matches.match, index: matches.start, groups: matches.groups });
        matches = evaluateMatcher(matches.next);
        count++;
      }
    }
    return result;
  });
  ports.set('replace', function replace(str, pattern, replacement, limit) {
    if (typeof str === 'undefined') return undefined;
    const self = this;
    if (pattern === '') throw { code: 'D3010', value: pattern, index: 2 };
    if (limit < 0) throw { code: 'D3011', value: limit, index: 4 };
    let replacer;
    if (typeof replacement === 'string') {
      replacer = function (regexMatch) {
        let substitute = '';
        let position = 0;
        let index = replacement.indexOf('$', position);
        while (index !== -1 && position < replacement.length) {
          substitute += replacement.substring(position, index);
          position = index + 1;
          const dollarVal = replacement.charAt(position);
          if (dollarVal === '$') {
            substitute += '$';
            position++;
          } else if (dollarVal === '0') {
            substitute += regexMatch.match;
            position++;
          } else {
            const maxDigits = regexMatch.groups.length === 0 ? 1 : Math.floor(Math.log(regexMatch.groups.length) * Math.LOG10E) + 1;
            index = parseInt(replacement.substring(position, position + maxDigits), 10);
            if (maxDigits > 1 && index > regexMatch.groups.length) {
              index = parseInt(replacement.substring(position, position + maxDigits - 1), 10);
            }
            if (!isNaN(index)) {
              if (regexMatch.groups.length > 0) {
                const submatch = regexMatch.groups[index - 1];
                if (typeof submatch !== 'undefined') substitute += submatch;
              }
              position += index.toString().length;
            } else {
              substitute += '$';
            }
          }
          index = replacement.indexOf('$', position);
        }
        substitute += replacement.substring(position);
        return substitute;
      };
    } else {
      replacer = replacement;
    }
    let result = '';
    let position = 0;
    if (typeof limit === 'undefined' || limit > 0) {
      let count = 0;
      if (typeof pattern === 'string') {
        let index = str.indexOf(pattern, position);
        while (index !== -1 && (typeof limit === 'undefined' || count < limit)) {
          result += str.substring(position, index);
          result += replacement;
          position = index + pattern.length;
          count++;
          index = str.indexOf(pattern, position);
        }
        result += str.substring(position);
      } else {
        let matches = evaluateMatcher(pattern, str);
        if (typeof matches !== 'undefined') {
          while (typeof matches !== 'undefined' && (typeof limit === 'undefined' || count < limit)) {
            result += str.substring(position, matches.start);
            const replacedWith = replacer.apply(self, [matches]);
            if (typeof replacedWith === 'string') result += replacedWith;
            else throw { code: 'D3012', value: replacedWith };
            position = matches.start + matches.match.length;
            count++;
            matches = evaluateMatcher(matches.next);
          }
          result += str.substring(position);
        } else {
          result = str;
        }
      }
    } else {
      result = str;
    }
    return result;
  });
  ports.set('split', function split(str, separator, limit) {
    if (typeof str === 'undefined') return undefined;
    if (limit < 0) throw { code: 'D3020', value: limit, index: 3 };
    let result = [];
    if (typeof limit === 'undefined' || limit > 0) {
      if (typeof separator === 'string') {
        result = str.split(separator, limit);
      } else {
        let count = 0;
        let matches = evaluateMatcher(separator, str);
        if (typeof matches !== 'undefined') {
          let start = 0;
          while (typeof matches !== 'undefined' && (typeof limit === 'undefined' || count < limit)) {
            result.push(str.substring(start, matches.start));
            start = matches.end;
            matches = evaluateMatcher(matches.next);
            count++;
          }
          if (typeof limit === 'undefined' || count < limit) result.push(str.substring(start));
        } else {
          result.push(str);
        }
      }
    }
    return result;
  });
  // $formatNumber parses and checks its picture on every call (a tenth of a money-heavy mapping's
  // time). Fixed-decimal pictures without grouping ("0", "0.00": what amounts use) and without
  // options come out of jsonata's algorithm as sign + |$round(value, decimals)|.toFixed(decimals),
  // so they are formatted that way here; every other picture goes to jsonata.
  const fnRound = native('round');
  const fnFormatNumber = native('formatNumber');
  const decimalsOfPicture = new Map();
  const MAX_CACHED_PICTURES = 256;
  const fixedDecimals = (picture) => {
    let decimals = decimalsOfPicture.get(picture);
    if (decimals === undefined) {
      const match = /^0(?:\.(0+))?$/.exec(picture);
      decimals = match ? (match[1] || '').length : null;
      if (decimalsOfPicture.size < MAX_CACHED_PICTURES) decimalsOfPicture.set(picture, decimals);
    }
    return decimals;
  };
  ports.set('formatNumber', function formatNumber(value, picture, options) {
    // Below 1e15 toFixed never switches to exponent notation and jsonata's shift-by-string round is exact.
    if (options === undefined && typeof value === 'number' && Math.abs(value) < 1e15 && typeof picture === 'string') {
      const decimals = fixedDecimals(picture);
      if (decimals !== null) return (value < 0 ? '-' : '') + Math.abs(fnRound(value, decimals)).toFixed(decimals);
    }
    return fnFormatNumber.apply(this, arguments);
  });

  // $fromMillis analyses its picture on every call too. The RFC 3339 UTC pictures integrations
  // write timestamps with are what Date#toISOString prints (years 1970-9999); others go to jsonata.
  const fnFromMillis = native('fromMillis');
  const ISO_UTC_LENGTH = new Map([
    ['[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01]Z', 19],
    ['[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001]Z', 23],
  ]);
  const LAST_MILLIS_OF_9999 = 253402300799999;
  ports.set('fromMillis', function fromMillis(millis, picture, timezone) {
    const length = timezone === undefined && typeof picture === 'string' ? ISO_UTC_LENGTH.get(picture) : undefined;
    if (length !== undefined && typeof millis === 'number' && millis >= 0 && millis <= LAST_MILLIS_OF_9999) {
      return new Date(millis).toISOString().slice(0, length) + 'Z';
    }
    return fnFromMillis.apply(this, arguments);
  });

  const implementationOf = new Map();
  for (const name of builtinNames) {
    const definition = builtins.lookup(name);
    implementationOf.set(definition, ports.get(name) || definition.implementation);
  }

  // ---- evaluation rules ----

  /**
   * jsonata's signature check builds a type string per call and runs a regex over it. For
   * signatures without typed arrays (whose check reads array contents) the outcome depends on that
   * type string alone, so when it left the arguments as they were (or only padded omitted optional
   * ones with undefined), that is remembered per string, with the length it padded to.
   */
  const validatedLengthBySignature = new WeakMap();
  function validate(signature, args, input) {
    let known = validatedLengthBySignature.get(signature);
    if (known === undefined) {
      const definition = signature.definition;
      known = typeof definition === 'string' && definition.indexOf('<', 1) === -1 ? { lengths: new Map(), padsSafely: contextOnlyInFirst(definition) } : null;
      validatedLengthBySignature.set(signature, known);
    }
    if (known === null) return signature.validate(args, input);
    let symbols = '';
    for (const arg of args) symbols += symbolOf(arg);
    const length = known.lengths.get(symbols);
    if (length !== undefined) return length === args.length ? args : padded(args, length);
    const validated = signature.validate(args, input);
    if (unchangedButPadding(validated, args, known.padsSafely)) known.lengths.set(symbols, validated.length);
    return validated;
  }

  /**
   * Padding is remembered only where no omitted argument can be the context instead: jsonata takes
   * the context for an omitted `-` parameter, and a context that happened to be undefined would
   * look like padding. Built-ins mark only their first parameter so, and it is never omitted here.
   */
  function contextOnlyInFirst(definition) {
    const dash = definition.indexOf('-');
    if (dash === -1) return true;
    const firstEnd = definition[1] === '(' ? definition.indexOf(')') + 1 : 2;
    return dash === firstEnd && definition.indexOf('-', dash + 1) === -1;
  }

  function unchangedButPadding(validated, args, padsSafely) {
    if (validated.length < args.length) return false;
    if (validated.length > args.length && !(padsSafely && args.length > 0)) return false;
    for (let i = 0; i < validated.length; i++) if (validated[i] !== args[i]) return false;
    return true;
  }

  function padded(args, length) {
    const result = args.slice();
    while (result.length < length) result.push(undefined);
    return result;
  }

  function apply(proc, args, input, context) {
    let validatedArgs = args;
    if (proc && proc.signature !== undefined) validatedArgs = validate(proc.signature, args, input);
    if (isLambda(proc)) {
      const frame = new Frame(proc.environment);
      for (let index = 0; index < proc.params.length; index++) frame.bind(proc.params[index], validatedArgs[index]);
      return proc.body(proc.input, frame, context);
    }
    if (proc && proc._jsonata_function === true) {
      const implementation = implementationOf.get(proc);
      // A definition from outside this compiler (a binding passed in by the caller) may be async.
      if (implementation === undefined) throw new Error('function not compiled');
      const focus = { environment: context.environmentShim, input, options: undefined, createSequence: sequenceFocus.createSequence };
      return implementation.apply(focus, validatedArgs);
    }
    if (typeof proc === 'function') return proc.apply(input, validatedArgs);
    throw { code: 'T1006' };
  }

  /** Function values passed as arguments are wrapped in a closure, as jsonata's evaluateFunction does. */
  function wrapFunctionArgument(arg, context) {
    if (!isFunction(arg)) return arg;
    const closure = (...params) => apply(arg, params, null, context);
    closure.arity = getFunctionArity(arg);
    return closure;
  }

  function compile(expr, position) {
    let core;
    switch (expr.type) {
      case 'path':
        core = compilePath(expr);
        break;
      case 'binary':
        core = compileBinary(expr);
        break;
      case 'unary':
        core = compileUnary(expr);
        break;
      case 'name': {
        const key = expr.value;
        core = (input) => lookup(input, key);
        break;
      }
      case 'string':
      case 'number':
      case 'value': {
        const value = expr.value;
        core = () => value;
        break;
      }
      case 'wildcard':
        core = evaluateWildcard;
        break;
      case 'descendant':
        core = evaluateDescendants;
        break;
      case 'condition':
        core = compileCondition(expr);
        break;
      case 'block':
        core = compileBlock(expr);
        break;
      case 'bind':
        if (position !== 'block') throw new UnsupportedExpression('assignment outside a block');
        core = compileBind(expr);
        break;
      case 'regex': {
        const pattern = expr.value;
        core = () => regexMatcher(pattern);
        break;
      }
      case 'function':
        core = compileCall(expr);
        break;
      case 'variable':
        core = compileVariable(expr);
        break;
      case 'lambda':
        // A tail-call thunk (jsonata's tail-call optimisation) evaluates its call in place.
        core = expr.thunk === true ? compile(expr.body) : compileLambda(expr);
        break;
      case 'apply':
        core = compileApply(expr);
        break;
      default:
        throw new UnsupportedExpression(`${expr.type} expressions`);
    }
    for (const flag of ['focus', 'index', 'tuple', 'ancestor', 'seekingParent']) {
      if (expr[flag] !== undefined) throw new UnsupportedExpression(`${flag} binding`);
    }
    const predicates = hasOwn(expr, 'predicate') ? expr.predicate.map((p) => compileFilter(p.expr)) : null;
    const group = expr.type !== 'path' && hasOwn(expr, 'group') ? compileGroup(expr.group) : null;
    const keepArray = expr.keepArray === true;
    // Collapsing is idempotent, so nodes that only pass on values collapsed further down skip it.
    if (predicates === null && group === null && !keepArray && !MAY_YIELD_SEQUENCE(expr)) return core;
    // jsonata's evaluate(): filters, grouping, then a sequence collapses to its single item.
    return (input, env, context) => {
      let result = core(input, env, context);
      if (predicates !== null) for (const filter of predicates) result = filter(result, env, context);
      if (group !== null) result = group(result, env, context);
      if (result && isSequence(result) && !result.tupleStream) {
        if (keepArray) result.keepSingleton = true;
        if (result.length === 0) result = undefined;
        else if (result.length === 1) result = result.keepSingleton ? result : result[0];
      }
      return result;
    };
  }

  function compilePath(expr) {
    if (expr.tuple) throw new UnsupportedExpression('tuple stream');
    const steps = expr.steps.map((step, ii) => {
      if (step.type === 'sort') throw new UnsupportedExpression('sort step');
      const stages = step.stages
        ? step.stages.map((stage) => {
          if (stage.type !== 'filter') throw new UnsupportedExpression(`${stage.type} stage`);
          return compileFilter(stage.expr);
        })
        : null;
      return { evaluate: compile(step), stages, consarray: ii === 0 && step.consarray === true };
    });
    const firstIsVariable = expr.steps[0].type === 'variable';
    const keepSingletonArray = expr.keepSingletonArray === true;
    const group = hasOwn(expr, 'group') ? compileGroup(expr.group) : null;
    const last = steps.length - 1;
    const general = (input, env, context) => {
      let inputSequence = Array.isArray(input) && !firstIsVariable ? input : sequenceOf(input);
      let resultSequence;
      for (let ii = 0; ii <= last; ii++) {
        const step = steps[ii];
        resultSequence = step.consarray
          ? step.evaluate(inputSequence, env, context)
          : evaluateStep(step, inputSequence, env, context, ii === last);
        if (typeof resultSequence === 'undefined' || resultSequence.length === 0) break;
        inputSequence = resultSequence;
      }
      if (keepSingletonArray) {
        if (Array.isArray(resultSequence) && resultSequence.cons && !resultSequence.sequence) resultSequence = sequenceOf(resultSequence);
        resultSequence.keepSingleton = true;
      }
      if (group !== null) resultSequence = group(resultSequence, env, context);
      return resultSequence;
    };
    const names = fieldNames(expr);
    if (names === null || keepSingletonArray || group !== null) return general;
    // `a.b.c` or `$v.b.c` through plain objects (the common case) is a chain of property reads;
    // arrays anywhere (which map and flatten) and everything else take the general evaluation.
    const first = firstIsVariable ? steps[0].evaluate : null;
    return (input, env, context) => {
      let value = input;
      if (first !== null) value = first(input, env, context);
      else if (Array.isArray(value)) return general(input, env, context);
      for (let ii = 0; ii < names.length; ii++) {
        if (value === null || typeof value !== 'object' || isFunction(value)) return undefined;
        if (Array.isArray(value)) return general(input, env, context);
        value = hasOwn(value, names[ii]) ? value[names[ii]] : undefined;
      }
      return Array.isArray(value) ? general(input, env, context) : value;
    };
  }

  /** The field names of a path of plain name steps (after an optional leading variable), or null. */
  function fieldNames(expr) {
    const names = [];
    for (let ii = 0; ii < expr.steps.length; ii++) {
      const step = expr.steps[ii];
      const plain = !hasOwn(step, 'predicate') && !hasOwn(step, 'stages') && !hasOwn(step, 'group') && step.keepArray !== true && step.consarray !== true;
      if (!plain) return null;
      if (step.type === 'variable' && ii === 0) continue;
      if (step.type !== 'name') return null;
      names.push(step.value);
    }
    return names;
  }

  function evaluateStep(step, input, env, context, lastStep) {
    const result = createSequence();
    for (let ii = 0; ii < input.length; ii++) {
      let res = step.evaluate(input[ii], env, context);
      if (step.stages !== null) for (const filter of step.stages) res = filter(res, env, context);
      if (typeof res !== 'undefined') result.push(res);
    }
    if (lastStep && result.length === 1 && Array.isArray(result[0]) && !isSequence(result[0])) return result[0];
    const resultSequence = createSequence();
    for (const res of result) {
      if (!Array.isArray(res) || res.cons) resultSequence.push(res);
      else Array.prototype.forEach.call(res, (val) => resultSequence.push(val));
    }
    return resultSequence;
  }

  function compileFilter(predicate) {
    if (predicate.type === 'number') {
      const position = Math.floor(predicate.value);
      return (input) => {
        let results = createSequence();
        if (!Array.isArray(input)) input = sequenceOf(input);
        const index = position < 0 ? input.length + position : position;
        const item = input[index];
        if (typeof item !== 'undefined') {
          if (Array.isArray(item)) results = item;
          else results.push(item);
        }
        return results;
      };
    }
    const test = compile(predicate);
    return (input, env, context) => {
      const results = createSequence();
      if (input && input.tupleStream) results.tupleStream = true;
      if (!Array.isArray(input)) input = sequenceOf(input);
      for (let index = 0; index < input.length; index++) {
        const item = input[index];
        let res = test(item, env, context);
        if (isNumeric(res)) res = [res];
        if (isArrayOfNumbers(res)) {
          Array.prototype.forEach.call(res, (ires) => {
            let ii = Math.floor(ires);
            if (ii < 0) ii = input.length + ii;
            if (ii === index) results.push(item);
          });
        } else if (fnBoolean(res)) {
          results.push(item);
        }
      }
      return results;
    };
  }

  function compileBinary(expr) {
    const lhs = compile(expr.lhs);
    const rhs = compile(expr.rhs);
    switch (expr.value) {
      case 'and':
        return (input, env, context) => boolize(lhs(input, env, context)) && boolize(rhs(input, env, context));
      case 'or':
        return (input, env, context) => boolize(lhs(input, env, context)) || boolize(rhs(input, env, context));
      case '+':
      case '-':
      case '*':
      case '/':
      case '%': {
        const op = expr.value;
        return (input, env, context) => numeric(lhs(input, env, context), rhs(input, env, context), op);
      }
      case '=':
      case '!=': {
        // Either side missing is false for both operators, not the negation of each other.
        const equal = expr.value === '=';
        return (input, env, context) => {
          const l = lhs(input, env, context);
          const r = rhs(input, env, context);
          return l === undefined || r === undefined ? false : isDeepEqual(l, r) === equal;
        };
      }
      case '<':
      case '<=':
      case '>':
      case '>=': {
        const op = expr.value;
        return (input, env, context) => compare(lhs(input, env, context), rhs(input, env, context), op);
      }
      case '&':
        return (input, env, context) => {
          const l = lhs(input, env, context);
          const r = rhs(input, env, context);
          return (l === undefined ? '' : fnString(l)).concat(r === undefined ? '' : fnString(r));
        };
      case '..':
        return (input, env, context) => range(lhs(input, env, context), rhs(input, env, context));
      case 'in':
        return (input, env, context) => {
          const l = lhs(input, env, context);
          let r = rhs(input, env, context);
          if (typeof l === 'undefined' || typeof r === 'undefined') return false;
          if (!Array.isArray(r)) r = [r];
          for (let i = 0; i < r.length; i++) if (r[i] === l) return true;
          return false;
        };
      default:
        throw new UnsupportedExpression(`operator ${expr.value}`);
    }
  }

  function numeric(lhs, rhs, op) {
    if (typeof lhs !== 'undefined' && !isNumeric(lhs)) throw { code: 'T2001', value: lhs };
    if (typeof rhs !== 'undefined' && !isNumeric(rhs)) throw { code: 'T2002', value: rhs };
    if (typeof lhs === 'undefined' || typeof rhs === 'undefined') return undefined;
    switch (op) {
      case '+': return lhs + rhs;
      case '-': return lhs - rhs;
      case '*': return lhs * rhs;
      case '/': return lhs / rhs;
      default: return lhs % rhs;
    }
  }

  function compare(lhs, rhs, op) {
    const ltype = typeof lhs;
    const rtype = typeof rhs;
    const lcomparable = ltype === 'undefined' || ltype === 'string' || ltype === 'number';
    const rcomparable = rtype === 'undefined' || rtype === 'string' || rtype === 'number';
    if (!lcomparable || !rcomparable) throw { code: 'T2010', value: !(ltype === 'string' || ltype === 'number') ? lhs : rhs };
    if (ltype === 'undefined' || rtype === 'undefined') return undefined;
    if (ltype !== rtype) throw { code: 'T2009', value: lhs, value2: rhs };
    switch (op) {
      case '<': return lhs < rhs;
      case '<=': return lhs <= rhs;
      case '>': return lhs > rhs;
      default: return lhs >= rhs;
    }
  }

  function range(lhs, rhs) {
    if (typeof lhs !== 'undefined' && !Number.isInteger(lhs)) throw { code: 'T2003', value: lhs };
    if (typeof rhs !== 'undefined' && !Number.isInteger(rhs)) throw { code: 'T2004', value: rhs };
    if (typeof lhs === 'undefined' || typeof rhs === 'undefined' || lhs > rhs) return undefined;
    const size = rhs - lhs + 1;
    if (size > 1e7) throw { code: 'D2014', value: size };
    const result = new Array(size);
    for (let item = lhs, index = 0; item <= rhs; item++, index++) result[index] = item;
    result.sequence = true;
    return result;
  }

  function compileUnary(expr) {
    switch (expr.value) {
      case '-': {
        const operand = compile(expr.expression);
        return (input, env, context) => {
          const result = operand(input, env, context);
          if (typeof result === 'undefined') return undefined;
          if (isNumeric(result)) return -result;
          throw { code: 'D1002', value: result };
        };
      }
      case '[': {
        const items = expr.expressions.map((item) => ({ evaluate: compile(item), nested: item.value === '[' }));
        const consarray = expr.consarray === true;
        return (input, env, context) => {
          let result = [];
          for (const item of items) {
            const value = item.evaluate(input, env, context);
            if (typeof value !== 'undefined') {
              if (item.nested) result.push(value);
              else result = append(result, value);
            }
          }
          if (consarray) Object.defineProperty(result, 'cons', { enumerable: false, configurable: false, value: true });
          return result;
        };
      }
      case '{':
        return compileGroup(expr);
      default:
        throw new UnsupportedExpression(`unary ${expr.value}`);
    }
  }

  /** Object constructor, standalone `{...}` or grouping on a path (`x{k: v}`). */
  function compileGroup(expr) {
    const pairs = expr.lhs.map(([key, value]) => [compile(key), compile(value)]);
    // The usual object literal: constant, distinct keys. Over a single context item the grouping
    // below reduces to evaluating each value once, so that is done directly.
    const isPlainKey = (key) => key.type === 'string' && !hasOwn(key, 'predicate') && !hasOwn(key, 'group') && key.keepArray !== true;
    const literalKeys = expr.lhs.map(([key]) => key.value);
    const literal =
      expr.lhs.every(([key]) => isPlainKey(key)) &&
      new Set(literalKeys).size === literalKeys.length &&
      !literalKeys.includes('_jsonata_lambda') &&
      !literalKeys.includes('_jsonata_function');
    const literalPairs = literal ? pairs.map(([, value], i) => [literalKeys[i], value]) : null;
    return (input, env, context) => {
      if (literalPairs !== null && !Array.isArray(input)) {
        const result = Object.create(null);
        for (const [key, value] of literalPairs) {
          const v = value(input, env, context);
          if (typeof v !== 'undefined') result[key] = v;
        }
        return result;
      }
      const result = Object.create(null);
      const groups = Object.create(null);
      if (!Array.isArray(input)) input = sequenceOf(input);
      if (input.length === 0) input.push(undefined);
      for (let itemIndex = 0; itemIndex < input.length; itemIndex++) {
        const item = input[itemIndex];
        for (let pairIndex = 0; pairIndex < pairs.length; pairIndex++) {
          const key = pairs[pairIndex][0](item, env, context);
          if (typeof key !== 'string' && key !== undefined) throw { code: 'T1003', value: key };
          if (key !== undefined) {
            if (key === '_jsonata_lambda' || key === '_jsonata_function') throw { code: 'D1013', value: key };
            if (hasOwn(groups, key)) {
              if (groups[key].exprIndex !== pairIndex) throw { code: 'D1009', value: key };
              groups[key].data = append(groups[key].data, item);
            } else {
              groups[key] = { data: item, exprIndex: pairIndex };
            }
          }
        }
      }
      for (const key of Object.keys(groups)) {
        const entry = groups[key];
        const value = pairs[entry.exprIndex][1](entry.data, env, context);
        if (typeof value !== 'undefined') result[key] = value;
      }
      return result;
    };
  }

  function compileCondition(expr) {
    const condition = compile(expr.condition);
    const then = compile(expr.then);
    const otherwise = typeof expr.else !== 'undefined' ? compile(expr.else) : null;
    return (input, env, context) => {
      const test = condition(input, env, context);
      // Comparisons answer booleans; only other values need jsonata's truthiness rules.
      if (test === true || (test !== false && fnBoolean(test))) return then(input, env, context);
      return otherwise === null ? undefined : otherwise(input, env, context);
    };
  }

  function compileBlock(expr) {
    const expressions = expr.expressions.map((e) => compile(e, 'block'));
    return (input, env, context) => {
      const frame = new Frame(env);
      let result;
      for (const evaluate of expressions) result = evaluate(input, frame, context);
      return result;
    };
  }

  function compileBind(expr) {
    const name = expr.lhs.value;
    const value = compile(expr.rhs);
    return (input, env, context) => {
      const result = value(input, env, context);
      env.bind(name, result);
      return result;
    };
  }

  function compileVariable(expr) {
    const name = expr.value;
    if (UNSUPPORTED_FUNCTIONS.has(name)) throw new UnsupportedExpression(`$${name}`);
    if (name === '') return (input) => (input && input.outerWrapper ? input[0] : input);
    // A name the expression never binds can only come from the caller's bindings or the built-ins.
    if (!boundNames.has(name)) {
      const builtin = builtins.bindings.get(name);
      return (input, env, context) => {
        const bound = context.root.bindings.get(name);
        return bound !== undefined || context.root.bindings.has(name) ? bound : builtin;
      };
    }
    return (input, env) => env.lookup(name);
  }

  function compileLambda(expr) {
    const params = expr.arguments.map((a) => a.value);
    const signature = expr.signature;
    const body = compile(expr.body);
    return (input, env) => ({ _jsonata_lambda: true, input, environment: env, params, signature, body });
  }

  /** A function call; `applyTo` is the left-hand side of `~>` when the call is its right-hand side. */
  function compileCall(expr) {
    const procedure = compile(expr.procedure);
    const args = expr.arguments.map((a) => compile(a));
    return (input, env, context, applyTo) => {
      const proc = procedure(input, env, context);
      if (typeof proc === 'undefined') throw { code: 'T1006' };
      const evaluatedArgs = applyTo === undefined ? [] : [applyTo.context];
      for (const arg of args) evaluatedArgs.push(wrapFunctionArgument(arg(input, env, context), context));
      return apply(proc, evaluatedArgs, input, context);
    };
  }

  function compileApply(expr) {
    const lhs = compile(expr.lhs);
    if (expr.rhs.type === 'function') {
      // jsonata calls evaluateFunction directly here, so a filter on the right-hand call would be ignored there.
      if (hasOwn(expr.rhs, 'predicate') || hasOwn(expr.rhs, 'group') || expr.rhs.keepArray === true) {
        throw new UnsupportedExpression('filtered call after ~>');
      }
      const call = compileCall(expr.rhs);
      return (input, env, context) => call(input, env, context, { context: lhs(input, env, context) });
    }
    const rhs = compile(expr.rhs);
    return (input, env, context) => {
      const left = lhs(input, env, context);
      const func = rhs(input, env, context);
      if (!isFunction(func)) throw { code: 'T2006', value: func };
      if (isFunction(left)) throw new Error('function composition is evaluated by jsonata');
      return apply(func, [left], null, context);
    };
  }

  function regexMatcher(pattern) {
    const re = new RegExp(pattern);
    const closure = (str, fromIndex) => {
      let result;
      re.lastIndex = fromIndex || 0;
      const match = re.exec(str);
      if (match !== null) {
        result = { match: match[0], start: match.index, end: match.index + match[0].length, groups: [] };
        for (let i = 1; i < match.length; i++) result.groups.push(match[i]);
        result.next = () => {
          if (re.lastIndex >= str.length) return undefined;
          const next = closure(str, re.lastIndex);
          if (next && next.match === '') throw { code: 'D1004', value: pattern.source };
          return next;
        };
      }
      return result;
    };
    return closure;
  }

  function evaluateWildcard(input) {
    let results = createSequence();
    if (Array.isArray(input) && input.outerWrapper && input.length > 0) input = input[0];
    if (input !== null && typeof input === 'object' && !isFunction(input)) {
      for (const key of Object.keys(input)) {
        const value = input[key];
        if (Array.isArray(value)) results = append(results, flatten(value, []));
        else results.push(value);
      }
    }
    return results;
  }

  function flatten(arg, flattened) {
    if (Array.isArray(arg)) Array.prototype.forEach.call(arg, (item) => flatten(item, flattened));
    else flattened.push(arg);
    return flattened;
  }

  function evaluateDescendants(input) {
    if (typeof input === 'undefined') return undefined;
    const resultSequence = createSequence();
    recurseDescendants(input, resultSequence);
    return resultSequence.length === 1 ? resultSequence[0] : resultSequence;
  }

  function recurseDescendants(input, results) {
    if (!Array.isArray(input)) results.push(input);
    if (Array.isArray(input)) {
      Array.prototype.forEach.call(input, (member) => recurseDescendants(member, results));
    } else if (input !== null && typeof input === 'object' && !isFunction(input)) {
      for (const key of Object.keys(input)) recurseDescendants(input[key], results);
    }
  }

  /** Variable names the expression being compiled binds anywhere (assignments, lambda parameters). */
  let boundNames = new Set();
  function namesBoundIn(ast) {
    const names = new Set(['$']);
    const visit = (node) => {
      if (Array.isArray(node)) return node.forEach(visit);
      if (node === null || typeof node !== 'object' || node instanceof RegExp) return;
      if (node.type === 'bind' && node.lhs) names.add(node.lhs.value);
      if (node.type === 'lambda' && Array.isArray(node.arguments)) for (const a of node.arguments) names.add(a.value);
      for (const key of Object.keys(node)) if (key !== 'signature') visit(node[key]);
    };
    visit(ast);
    return names;
  }

  /**
   * Compiles an expression. Returns an evaluator, or throws UnsupportedExpression when the
   * expression uses something this compiler leaves to jsonata. Syntax errors are jsonata's own.
   */
  function compileExpression(expression) {
    const ast = jsonata(expression).ast();
    boundNames = namesBoundIn(ast);
    const root = compile(ast, 'block');
    return {
      /** Evaluates like jsonata's evaluate(input, bindings), synchronously. Throws on any evaluation error. */
      evaluate(input, bindings) {
        const frame = new Frame(builtins);
        if (bindings) for (const name of Object.keys(bindings)) frame.bind(name, bindings[name]);
        frame.bind('$', input);
        const context = { root: frame, environmentShim: { timestamp: new Date() } };
        if (Array.isArray(input) && !isSequence(input)) {
          input = sequenceOf(input);
          input.outerWrapper = true;
        }
        return root(input, frame, context);
      },
    };
  }

  return { compile: compileExpression };
}

module.exports = { createJsonataCompiler, UnsupportedExpression };
