// npm run bench: wasync against casync, side by side, on the same inputs in one
// run.  Each measurement alternates the two tools and reports the median of
// several runs (the machines are noisy): wall-clock MB/s, CPU seconds per GB
// (user+sys of every thread, and the kernel's part of it), the speed ratio, the CPU
// ratio and the peak RSS.
// Inputs: a 512 MiB tar of /usr/lib and /usr/share (the blob a user would chunk:
// mixed real files, some compressible), 512 MiB of random data (incompressible, no zeros: the worst case
// for wasync, whose gains come from parallel work and skipping zeros) and an ext4
// image of /usr/share made by mke2fs -d (what wasync is for: a file-system image
// with compressible files and free space).
//
// A third case is a copy of a directory tree (/usr/share, or --tree=DIR) made into a
// .caidx and extracted again by both tools, once on the bench directory's disk and once
// with everything on a tmpfs (/dev/shm) so that the disk hides nothing; a fourth (network.ts) extracts over HTTP from a
// server with 20 ms per request, plain and as a seeded update.  mount.ts and nbd.ts
// read a blob through `wasync mount` (FUSE) and `wasync mkdev` (NBD) against
// reading the extracted file.
//
// The tar case (tar-in.ts) makes a .caidx from a tar of the tree, against GNU tar
// unpacking it and casync making the index of the tree.
//
// The cache case (encoder-cache.ts) makes a copy of the tree with the encoder
// cache: first make, and second make after one file changed.  tar-in makes an
// archive from a tar of the tree (tar-in.ts).  s3.ts makes and extracts through
// an S3 store beside a local and an HTTP one.
//
//   npm run bench [-- --dir=DIR] [--runs=N] [--only=tar,random,image,tree,tar-in,cache,network,mount,nbd,web,s3] [--tree=DIR]

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MiB, compare, sameFile, timed, wasyncBin, writeRandom } from './measure.ts';
import { benchNetwork } from './network.ts';
import { benchMount } from './mount.ts';
import { benchNbd } from './nbd.ts';
import { benchWeb } from './web.ts';
import { benchEncoderCache } from './encoder-cache.ts';
import { benchTarIn } from './tar-in.ts';
import { benchS3 } from './s3.ts';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const runs = Number(arg('runs') ?? 5);
const only = arg('only')?.split(',');
const wanted = (name: string) => !only || only.includes(name);
const work = arg('dir') ?? mkdtempSync(join(process.env.WASYNC_BENCH_DIR ?? tmpdir(), 'wasync-bench-'));
mkdirSync(work, { recursive: true });

/** The first `size` bytes of a tar of /usr/lib and /usr/share (cut mid-member: a blob is a blob). */
function makeTar(path: string, size: number): boolean {
  const dirs = ['/usr/lib', '/usr/share'].filter((d) => existsSync(d));
  if (dirs.length === 0) return false;
  const r = spawnSync('sh', ['-c', `tar -c --warning=none -f - "$@" 2>/dev/null | head -c ${size} > '${path}'`, 'tar', ...dirs]);
  return r.status === 0 && statSync(path).size === size;
}

function makeImage(path: string): boolean {
  if (spawnSync('mke2fs', ['-V']).status !== 0 || !existsSync('/usr/share')) return false;
  const used = Number(spawnSync('du', ['-sb', '/usr/share'], { encoding: 'utf8' }).stdout.split('\t')[0]);
  const files = spawnSync('find', ['/usr/share'], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout.split('\n').length;
  const size = Math.max(512 * MiB, Math.ceil((used * 1.5) / MiB) * MiB);
  const args = ['-q', '-F', '-t', 'ext4', '-b', '4096', '-N', String(Math.ceil(files * 1.2) + 1024), '-E', 'root_owner=0:0'];
  const r = spawnSync('mke2fs', [...args, '-d', '/usr/share', path, `${size / 1024}k`], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.log(`(no image: mke2fs failed: ${r.stderr.trim()})`);
    return false;
  }
  return true;
}

/**
 * `input` made by both tools (run i into wI/cI.castr and .EXT), then casync's first
 * index extracted by both (run i into wI/cI.out), under `p`.
 */
function makeAndExtract(input: string, size: number, p: (n: string) => string, ext: 'caibx' | 'caidx', what = '') {
  compare(
    `make${what}`,
    size,
    (i) => timed(['node', wasyncBin, 'make', `--store=${p(`w${i}.castr`)}`, p(`w${i}.${ext}`), input]),
    (i) => timed(['casync', 'make', `--store=${p(`c${i}.castr`)}`, p(`c${i}.${ext}`), input]),
    runs,
  );
  sameFile(p(`w0.${ext}`), p(`c0.${ext}`), 'indexes');
  compare(
    `extract${what}`,
    size,
    (i) => timed(['node', wasyncBin, 'extract', `--store=${p('c0.castr')}`, p(`c0.${ext}`), p(`w${i}.out`)]),
    (i) => timed(['casync', 'extract', `--store=${p('c0.castr')}`, p(`c0.${ext}`), p(`c${i}.out`)]),
    runs,
  );
}

async function benchBlob(label: string, input: string) {
  const size = statSync(input).size;
  console.log(`\n${label}: ${(size / MiB).toFixed(0)} MiB (${input})`);
  const dir = mkdtempSync(join(work, `${label}-`));
  const p = (n: string) => join(dir, n);
  try {
    makeAndExtract(input, size, p, 'caibx');
    sameFile(p('w0.out'), input, 'wasync extract');
    sameFile(p('c0.out'), input, 'casync extract');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Copies `source` into a new directory under `at` and makes and extracts the copy there. */
async function benchTree(source: string, where: string, at: string) {
  const dir = mkdtempSync(join(at, 'wasync-tree-'));
  const tree = join(dir, 'input');
  const p = (n: string) => join(dir, n);
  try {
    if (spawnSync('cp', ['-a', source, tree]).status !== 0) throw new Error(`cannot copy ${source} to ${tree}`);
    const bytes = Number(spawnSync('du', ['-sb', tree], { encoding: 'utf8' }).stdout.split('\t')[0]);
    console.log(`\ntree on ${where}: ${(bytes / MiB).toFixed(0)} MiB, a copy of ${source} in ${dir}`);
    makeAndExtract(tree, bytes, p, 'caidx', ' .caidx');
    const mtree = (d: string) => spawnSync('casync', ['mtree', d], { encoding: 'utf8', maxBuffer: 1 << 30 }).stdout;
    // casync leaves the root directory's time unset; compare the rest.
    const body = (s: string) => s.slice(s.indexOf('\n'));
    if (body(mtree(p('w0.out'))) !== body(mtree(p('c0.out')))) throw new Error('the extracted trees differ');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  if (spawnSync('casync', ['--version']).status !== 0) throw new Error('the bench needs casync (apt-get install casync)');
  console.log(`wasync bench in ${work}: median of ${runs} alternating runs, ${(await import('node:os')).availableParallelism()} cores`);
  if (process.env.NODE_EXTRA_CA_CERTS) console.log('(NODE_EXTRA_CA_CERTS is set here: the timed commands run without it, see measure.ts)');
  try {
    if (wanted('tar')) {
      const tar = join(work, 'usr.tar');
      if (makeTar(tar, 512 * MiB)) await benchBlob('tar', tar);
      else console.log('\n(tar case skipped: needs tar and 512 MiB under /usr/lib and /usr/share)');
      rmSync(tar, { force: true });
    }
    if (wanted('random')) {
      const random = join(work, 'random.img');
      await writeRandom(random, 512 * MiB);
      await benchBlob('random', random);
    }
    if (wanted('tree')) {
      const tree = arg('tree') ?? '/usr/share';
      if (existsSync(tree)) {
        await benchTree(tree, 'disk', work);
        await benchTree(tree, 'tmpfs', '/dev/shm');
      } else console.log(`\n(tree case skipped: ${tree} does not exist)`);
    }
    if (wanted('tar-in')) {
      const tree = arg('tree') ?? '/usr/share';
      if (existsSync(tree)) benchTarIn(work, tree, runs);
      else console.log(`\n(tar-in case skipped: ${tree} does not exist)`);
    }
    if (wanted('cache')) {
      const tree = arg('tree') ?? '/usr/share';
      if (existsSync(tree)) console.log(['', ...(await benchEncoderCache(work, tree, runs))].join('\n'));
      else console.log(`\n(cache case skipped: ${tree} does not exist)`);
    }
    if (wanted('image')) {
      const image = join(work, 'usr-share.ext4');
      if (makeImage(image)) await benchBlob('image', image);
      else console.log('\n(image case skipped: needs mke2fs and /usr/share)');
    }
    if (wanted('network')) await benchNetwork(work, runs);
    if (wanted('mount')) console.log(['', ...(await benchMount(work, runs))].join('\n'));
    if (wanted('nbd')) console.log(['', ...(await benchNbd(work, runs))].join('\n'));
    if (wanted('web')) console.log(['', ...(await benchWeb(work, runs))].join('\n'));
    if (wanted('s3')) console.log(['', ...(await benchS3(work, runs))].join('\n'));
  } finally {
    if (!arg('dir')) rmSync(work, { recursive: true, force: true });
  }
}

await main();
