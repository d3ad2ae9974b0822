import { Option } from 'commander';
import { type Context, parseNumber, parsePositiveInt } from '../context.js';
import { loadTheory, need } from '../deps.js';
import { EXIT_CHECK_FAILED } from '../errors.js';

/** A `normkit theory <name>` calculator. */
export interface TheoryCommand {
  name: string;
  description: string;
  options: Option[];
  run(ctx: Context, opts: Record<string, unknown>): Promise<number>;
}

/** Prints `{ command: 'theory', calculator, input, result }`; exit 1 when the result says a check by construction failed. */
function emitTheory(ctx: Context, calculator: string, input: Record<string, unknown>, result: Record<string, unknown>): number {
  ctx.emit({ command: 'theory', calculator, input, result }, () => {
    const w = Math.max(...Object.keys(result).map((k) => k.length));
    return [
      `${calculator}(${Object.entries(input)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')})`,
      ...Object.entries(result).map(([k, v]) => `  ${k.padEnd(w)}  ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`),
    ].join('\n');
  });
  const failed = result.verified === false || result.ok === false;
  return failed ? EXIT_CHECK_FAILED : 0;
}

/** The theory calculators the CLI offers. */
export function theoryCommands(): TheoryCommand[] {
  return [
    {
      name: 'pln-width',
      description: 'neurons a PLN + linear network needs to approximate an L-Lipschitz function to ε (built and checked)',
      options: [
        new Option('--lipschitz <L>', 'Lipschitz constant of the target').makeOptionMandatory(),
        new Option('--epsilon <eps>', 'sup-norm error').makeOptionMandatory(),
        new Option('--activation <name>', 'activation of the network').default('relu'),
      ],
      async run(ctx, o) {
        const theory = await loadTheory();
        const input = {
          lipschitz: parseNumber('--lipschitz', o.lipschitz as string),
          epsilon: parseNumber('--epsilon', o.epsilon as string),
          activation: String(o.activation),
        };
        const r = await need(theory, '@normkit/theory', 'plnWidth')(input as never);
        return emitTheory(ctx, 'pln-width', input, r as unknown as Record<string, unknown>);
      },
    },
    {
      name: 'lnnet',
      description: 'build the LN-Net (3 neurons per layer, O(m) layers) that classifies m random labelled points, and check it',
      options: [
        new Option('--points <m>', 'number of labelled samples').default('16'),
        new Option('--dim <d>', 'input dimension').default('2'),
        new Option('--seed <n>', 'seed of the samples').default('0'),
      ],
      async run(ctx, o) {
        const theory = await loadTheory();
        const input = {
          points: parsePositiveInt('--points', o.points as string, 16),
          dim: parsePositiveInt('--dim', o.dim as string, 2),
          seed: parseNumber('--seed', o.seed as string, 0),
        };
        const r = await need(theory, '@normkit/theory', 'lnNet')(input as never);
        return emitTheory(ctx, 'lnnet', input, r as unknown as Record<string, unknown>);
      },
    },
  ];
}
