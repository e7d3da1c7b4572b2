/** Types for jsonata-compiler.js (plain JavaScript so that mapping threads can load it; see there). */
import type jsonata from 'jsonata';

export interface CompiledJsonata {
  /** Evaluates like jsonata's evaluate(input, bindings), synchronously; throws on any evaluation error. */
  evaluate(input: unknown, bindings?: Record<string, unknown>): unknown;
}

export interface JsonataCompiler {
  /** Throws UnsupportedExpression for constructs left to jsonata, and jsonata's own error for bad syntax. */
  compile(expression: string): CompiledJsonata;
}

export class UnsupportedExpression extends Error {}

export function createJsonataCompiler(jsonataModule: typeof jsonata): Promise<JsonataCompiler>;
