import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';

const MAIN = path.join(__dirname, '../../dist/apps/hub/src/main.js');

export interface ChildHub {
  process: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Runs the production build as a separate process (built by the jest global setup). */
export function spawnHub(env: Record<string, string>): ChildHub {
  let output = '';
  const child = spawn(process.execPath, [MAIN], { env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { process: child, output: () => output, exited };
}

export async function waitForOutput(child: ChildHub, pattern: RegExp, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(child.output())) {
    if (Date.now() > deadline || child.process.exitCode !== null) throw new Error(`child hub never printed ${pattern}; output:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
