import jsonata from 'jsonata';

export class MappingTimeoutError extends Error {}

const MAX_DEPTH = 500;
const GUARD = '__omnihubGuard';

interface Guard {
  deadline: number;
  timeoutMs: number;
  depth: number;
}

type Environment = { lookup(name: string): unknown };

/**
 * A compiled JSONata expression that cannot hang a worker: evaluation checks a deadline and a
 * recursion depth at every step (the jsonata project's own "timebox" pattern), so a runaway
 * mapping fails with MappingTimeoutError instead. The guard state is bound per evaluation, so
 * concurrent evaluations of one compiled expression keep their own deadlines.
 */
export class CompiledMapping {
  private constructor(private readonly expression: jsonata.Expression) {
    // jsonata looks its step hooks up by these symbols; `assign` is the only way to bind a symbol.
    const assign = expression.assign as (name: string | symbol, value: unknown) => void;
    assign(Symbol.for('jsonata.__evaluate_entry'), (_expr: unknown, _input: unknown, env: Environment) => {
      const guard = env.lookup(GUARD) as Guard | undefined;
      if (!guard) return;
      if (++guard.depth > MAX_DEPTH) throw new MappingTimeoutError(`mapping recursed deeper than ${MAX_DEPTH} levels`);
      if (Date.now() > guard.deadline) throw new MappingTimeoutError(`mapping ran longer than ${guard.timeoutMs} ms`);
    });
    assign(Symbol.for('jsonata.__evaluate_exit'), (_expr: unknown, _input: unknown, env: Environment) => {
      const guard = env.lookup(GUARD) as Guard | undefined;
      if (guard) guard.depth--;
    });
  }

  /** Throws the JSONata syntax error (with its position) when the text does not compile. */
  static compile(text: string): CompiledMapping {
    return new CompiledMapping(jsonata(text));
  }

  async evaluate(input: unknown, bindings: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    const guard: Guard = { deadline: Date.now() + timeoutMs, timeoutMs, depth: 0 };
    return this.expression.evaluate(input, { ...bindings, [GUARD]: guard });
  }
}
