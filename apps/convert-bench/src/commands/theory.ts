import { Rng } from '@normkit/tensor';
import { Option } from 'commander';
import { type Context, parseNumber, parsePositiveInt } from '../context.js';
import { loadTheory, need } from '../deps.js';
import { CliError, EXIT_BAD_INPUT, EXIT_CHECK_FAILED, isNormkitError } from '../errors.js';

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
    const lines = [
      `normkit theory ${calculator} ${Object.entries(input)
        .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : v}`)
        .join(' ')}`,
    ];
    const put = (obj: Record<string, unknown>, indent: string) => {
      const w = Math.max(...Object.keys(obj).map((k) => k.length));
      for (const [k, v] of Object.entries(obj)) {
        if (v && typeof v === 'object' && !Array.isArray(v)) {
          lines.push(`${indent}${k}:`);
          put(v as Record<string, unknown>, `${indent}  `);
        } else lines.push(`${indent}${k.padEnd(w)}  ${Array.isArray(v) ? `[${v.join(', ')}]` : String(v)}`);
      }
    };
    put(result, '  ');
    return lines.join('\n');
  });
  const failed = result.verified === false || result.shattered === false || (typeof result.accuracy === 'number' && result.accuracy < 1);
  return failed ? EXIT_CHECK_FAILED : 0;
}

/** Runs a theory function, turning its argument errors into bad usage (exit 2). */
async function call<T>(fn: () => T): Promise<T> {
  try {
    return fn();
  } catch (e) {
    if (isNormkitError(e)) throw new CliError(e.message, EXIT_BAD_INPUT, e.code, { cause: e });
    throw e;
  }
}

function parseInterval(v: unknown): [number, number] | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*(-?[\d.e+-]+)\s*,\s*(-?[\d.e+-]+)\s*$/.exec(String(v));
  if (!m || !(Number(m[1]) < Number(m[2])))
    throw new CliError(`--interval expects a,b with a < b (e.g. --interval 0,1), got "${v}"`, EXIT_BAD_INPUT, 'BAD_USAGE');
  return [Number(m[1]), Number(m[2])];
}

/** The theory calculators the CLI offers. */
export function theoryCommands(): TheoryCommand[] {
  return [
    {
      name: 'pln-width',
      description:
        'hidden neurons a one-hidden-layer PLN (or ReLU/sigmoid) network needs to approximate an L-Lipschitz function to ε; builds that network and checks it',
      options: [
        new Option('--lipschitz <L>', 'Lipschitz constant of the target').makeOptionMandatory(),
        new Option('--epsilon <eps>', 'sup-norm error').makeOptionMandatory(),
        new Option('--activation <name>', 'activation of the hidden layer')
          .choices(['pln2', 'pln', 'pls', 'relu', 'sigmoid'])
          .default('pln2'),
        new Option('--group-size <n>', 'group size of pln (≥ 2) or pls (≥ 1)'),
        new Option('--interval <a,b>', 'domain of the target (default 0,1)'),
      ],
      async run(ctx, o) {
        const theory = await loadTheory();
        const input = {
          lipschitz: parseNumber('--lipschitz', o.lipschitz as string),
          epsilon: parseNumber('--epsilon', o.epsilon as string),
          activation: String(o.activation) as 'pln2',
          ...(o.groupSize !== undefined ? { groupSize: parsePositiveInt('--group-size', o.groupSize as string, 2) } : {}),
          ...(o.interval !== undefined ? { interval: parseInterval(o.interval) } : {}),
        };
        const r = await call(() => need(theory, '@normkit/theory', 'plnWidth')(input));
        return emitTheory(ctx, 'pln-width', input, r as unknown as Record<string, unknown>);
      },
    },
    {
      name: 'lnnet',
      description:
        'build the LN-Net (3 neurons per layer, O(m) layers) that classifies m random labelled points, run it as a graph, and check it',
      options: [
        new Option('--points <m>', 'number of labelled samples').default('16'),
        new Option('--dim <d>', 'input dimension').default('2'),
        new Option('--seed <n>', 'seed of the samples and labels').default('0'),
      ],
      async run(ctx, o) {
        const theory = await loadTheory();
        const input = {
          points: parsePositiveInt('--points', o.points as string, 16),
          dim: parsePositiveInt('--dim', o.dim as string, 2),
          seed: parseNumber('--seed', o.seed as string, 0),
        };
        const r = await call(() => need(theory, '@normkit/theory', 'lnNet')(input));
        return emitTheory(ctx, 'lnnet', input, r as unknown as Record<string, unknown>);
      },
    },
    {
      name: 'shatter',
      description: 'check that LN-Nets of a given depth shatter depth + 1 points (every labelling realised): the VC-dimension lower bound',
      options: [new Option('--depth <L>', 'network depth (1..16)').default('4'), new Option('--dim <d>', 'input dimension').default('2')],
      async run(ctx, o) {
        const theory = await loadTheory();
        const input = { depth: parsePositiveInt('--depth', o.depth as string, 4), dim: parsePositiveInt('--dim', o.dim as string, 2) };
        const r = await call(() => need(theory, '@normkit/theory', 'shatter')(input.depth, input.dim));
        const vc = await call(() => need(theory, '@normkit/theory', 'lnNetVcLowerBound')(input.depth));
        return emitTheory(ctx, 'shatter', input, { ...r, vcLowerBound: vc });
      },
    },
    {
      name: 'iternorm',
      description: 'IterNorm (Newton–Schulz) iterations that whiten every covariance of dimension d and condition number κ to a tolerance',
      options: [
        new Option('--condition-number <k>', 'λmax / λmin of the covariance (≥ 1)').makeOptionMandatory(),
        new Option('--dim <d>', 'dimension').default('2'),
        new Option('--tolerance <tol>', 'whitening error max |h_T(x) − 1|').default('1e-3'),
      ],
      async run(ctx, o) {
        const theory = await loadTheory();
        const input = {
          conditionNumber: parseNumber('--condition-number', o.conditionNumber as string),
          dim: parsePositiveInt('--dim', o.dim as string, 2),
          tolerance: parseNumber('--tolerance', o.tolerance as string, 1e-3),
        };
        const r = await call(() => need(theory, '@normkit/theory', 'iterNormIterations')(input));
        return emitTheory(ctx, 'iternorm', input, r as unknown as Record<string, unknown>);
      },
    },
    {
      name: 'fold-identity',
      description: 'check LN(Wx + b) = RMSNorm(W′x + b′) with W′, b′ column-centered, on a seeded random W, b, x (float64)',
      options: [
        new Option('--rows <d>', 'output features (the normalized axis)').default('8'),
        new Option('--cols <k>', 'input features').default('4'),
        new Option('--eps <e>', 'ε inside the square root').default('0'),
        new Option('--seed <n>', 'seed of W, b, x').default('0'),
      ],
      async run(ctx, o) {
        const theory = await loadTheory();
        const input = {
          rows: parsePositiveInt('--rows', o.rows as string, 8),
          cols: parsePositiveInt('--cols', o.cols as string, 4),
          eps: parseNumber('--eps', o.eps as string, 0),
          seed: parseNumber('--seed', o.seed as string, 0),
        };
        const rng = new Rng(input.seed);
        const W = Array.from({ length: input.rows }, () => Array.from({ length: input.cols }, () => rng.normal()));
        const b = Array.from({ length: input.rows }, () => rng.normal());
        const x = Array.from({ length: input.cols }, () => rng.normal());
        const r = await call(() => need(theory, '@normkit/theory', 'foldIdentityResidual')(W, b, x, { eps: input.eps }));
        const scale = Math.max(...r.ln.map(Math.abs));
        return emitTheory(ctx, 'fold-identity', input, {
          residual: r.residual,
          relativeResidual: r.residual / scale,
          verified: r.residual <= 1e-12 * Math.max(1, scale),
        });
      },
    },
    {
      name: 'group-nonlinearity',
      description: "LN-G's nonlinearity by group size: LSSR of PLN_g(XW + b) features for random labelled points (lower = more separable)",
      options: [
        new Option('--points <m>', 'labelled samples').default('64'),
        new Option('--dim <d>', 'input dimension').default('4'),
        new Option('--width <w>', 'features after the linear layer').default('16'),
        new Option('--groups <list>', 'group sizes (divisors of the width)').default('2,4,8,16'),
        new Option('--seed <n>', 'seed of the points, labels and the linear layer').default('0'),
      ],
      async run(ctx, o) {
        const theory = await loadTheory();
        const width = parsePositiveInt('--width', o.width as string, 16);
        const groups = String(o.groups)
          .split(',')
          .map((g) => parsePositiveInt('--groups', g.trim(), 2));
        const bad = groups.find((g) => width % g !== 0);
        if (bad !== undefined) throw new CliError(`--groups: ${bad} does not divide --width ${width}`, EXIT_BAD_INPUT, 'BAD_USAGE');
        const input = {
          points: parsePositiveInt('--points', o.points as string, 64),
          dim: parsePositiveInt('--dim', o.dim as string, 4),
          width,
          groups,
          seed: parseNumber('--seed', o.seed as string, 0),
        };
        const rng = new Rng(input.seed);
        const X = Array.from({ length: input.points }, () => Array.from({ length: input.dim }, () => rng.uniform(-1, 1)));
        const labels = Array.from({ length: input.points }, () => rng.int(2));
        const W = Array.from({ length: input.dim }, () => Array.from({ length: width }, () => rng.normal()));
        const b = Array.from({ length: width }, () => rng.normal(0, 0.1));
        const r = await call(() => need(theory, '@normkit/theory', 'lssrByGroupSize')(X, labels, W, b, groups));
        return emitTheory(ctx, 'group-nonlinearity', input, {
          lssrInput: r.input,
          lssrLinear: r.linear,
          byGroupSize: Object.fromEntries(r.byGroup.map((g) => [`g=${g.groupSize}`, g.lssr])),
        });
      },
    },
    {
      name: 'intl-beta',
      description: "INTL's trace-loss weight β = 0.01·(log2 n − 3) for batch size (or embedding dimension) n",
      options: [new Option('--n <n>', 'batch size (axis 0) or embedding dimension (axis 1)').makeOptionMandatory()],
      async run(ctx, o) {
        const theory = await loadTheory();
        const input = { n: parsePositiveInt('--n', o.n as string, 1) };
        const beta = await call(() => need(theory, '@normkit/theory', 'intlBeta')(input.n));
        return emitTheory(ctx, 'intl-beta', input, { beta });
      },
    },
  ];
}
