// The wasync command line: casync's verbs, options and messages.  Each verb
// turns its strings into an operation's typed options (options.ts), runs it,
// prints what casync prints, and main() turns a failure into one line on
// standard error (the stack too with --verbose) and exit status 1.  Called as
// fuse3's mount.fuse calls a file system's program (`wasync SOURCE MOUNTPOINT
// -o OPTIONS`, for the type fuse.wasync), it is the mount helper
// (mount-helper.ts, also bin/mount.wasync.js).  Nothing outside src/cli/
// imports from here.

import { packageVersion } from './package-root.ts';
import { Command, CommanderError, Option } from 'commander';
import { WasyncError, unsupported } from '../errors.ts';
import { featureFlagsHelp } from '../format/feature-flag-names.ts';
import { exitOnSignals } from '../platform/node/io/atomic-file.ts';
import { extract, make } from './make.ts';
import { digest, inspect } from './inspect.ts';
import { gc, pack, verify } from './verify.ts';
import { mkdev, mount, pullPush, serve } from './serving.ts';
import { checkOptions, whatHelp, type GlobalOptions } from './options.ts';
import { mountHelper } from './mount-helper.ts';
import { serviceNotifier } from './service.ts';
import { keygen, sign, type SignOptions } from './sign.ts';
import { cat, chop, chunk, configCli, info, inspectChunks, listChunksCli } from './toolbox.ts';

const repeat = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

/**
 * `--with=help`, `--without=help` and `--what=help` print casync's lists and
 * end with status 0 as soon as they are parsed, whatever else is given (as
 * casync's option parser does); --help ends the same way.
 */
function orHelp<T>(text: () => string, parse: (v: string, prev: T) => T) {
  return (v: string, prev: T): T => {
    if (v !== 'help') return parse(v, prev);
    process.stdout.write(text());
    throw new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)');
  };
}

export function program(): Command {
  const p = new Command('wasync')
    .description('Content-addressable data synchronization, compatible with casync 2')
    .usage('[OPTIONS...] VERB [ARGS...]')
    .version(`wasync ${packageVersion()}`, '--version', 'Show brief version information')
    .helpOption('-h, --help', 'Show this help')
    .option('-v, --verbose', 'Show terse status information during runtime')
    .option('-n, --dry-run', 'When garbage collecting, only print what would be done')
    .option('--store <PATH>', 'The primary chunk store to use')
    .option('--extra-store <PATH>', 'Additional chunk store to look for chunks in (repeatable)', repeat)
    .option('--chunk-size <[MIN:]AVG[:MAX]>', 'The minimal/average/maximum number of bytes in a chunk')
    .option('--digest <DIGEST>', 'Pick digest algorithm (sha512-256 or sha256)')
    .option('--compression <COMPRESSION>', 'Pick compression algorithm (zstd, xz or gzip)')
    .option('--seed <PATH>', 'Additional file or block device to use as seed (repeatable)', repeat)
    .option('--seed-output <yes|no>', 'Implicitly add pre-existing output as seed when extracting (default yes)')
    .addOption(
      new Option('--what <WHAT>', 'Operate on: archive, archive-index, blob, blob-index, directory (see --what=help)').argParser(orHelp(whatHelp, (v: string) => v)),
    )
    .option('--with <FEATURE>', 'Store this metadata in archives (repeatable; see --with=help)', orHelp(featureFlagsHelp, repeat))
    .option('--without <FEATURE>', 'Leave this metadata out of archives (repeatable; see --without=help)', orHelp(featureFlagsHelp, repeat))
    .option('--exclude-nodump <yes|no>', "Exclude files and directories with chattr(1)'s +d flag (default yes)")
    .option('--exclude-submounts <yes|no>', 'Exclude submounts when creating an archive (default no)')
    .option('--exclude-file <yes|no>', 'Respect .caexclude files in the tree (default yes)')
    .option('--delete <yes|no>', 'Delete existing files not listed in the archive after extraction (default yes)')
    .option('--undo-immutable <yes|no>', "When removing existing files, undo chattr(1)'s +i flag (default no)")
    .option('--punch-holes <yes|no>', 'Leave runs of zeros as holes (sparse files) when extracting (default yes)')
    .option('--uid-shift <yes|no|SHIFT>', 'Shift UIDs/GIDs when extracting')
    .option('--uid-range <RANGE>', 'Restrict UIDs/GIDs to a range when extracting')
    .option('--reflink <yes|no>', 'Clone data from seeds with reflinks where the file system can (default yes)')
    .option('--hardlink <yes|no>', 'Hard-link identical files from seeds when extracting (default no)')
    .option('--output-format <tar>', 'extract: write the tree of an archive or archive index as a pax tar stream (to FILE or -)')
    .option('--concurrency <N>', 'Requests to remote stores in flight at once (default 16)')
    .option('--rate-limit-bps <N>', 'Limit the bandwidth used for remote indexes, archives and stores to N bytes per second')
    .option('--cache <PATH>', 'make: directory to use as encoder cache; extract and other readers: a local store that keeps chunks fetched from remote stores')
    .option('-c, --cache-auto', 'Pick encoder cache directory automatically (DIR/.cacac)')
    .option('--progress <auto|bar|json|no>', 'Report progress: a bar when stderr is a terminal (auto, the default), or JSON lines on stderr')
    .option('--token <SECRET>', 'Bearer token for remote stores and servers (default $WASYNC_TOKEN)')
    .option('--encryption-key <HEX>', "Chunk stores hold chunks encrypted with this 256-bit key, in desync's layout (default $WASYNC_ENCRYPTION_KEY)")
    .option('--encryption-key-file <FILE>', 'Read the encryption key (64 hex digits) from FILE')
    .option('--encryption <ALG>', 'Cipher of encrypted stores: xchacha20-poly1305 (default) or aes-256-gcm')
    .option('--trusted-key <FILE|BASE64>', 'Require indexes and archives to be signed by this minisign public key (repeatable; default $WASYNC_TRUSTED_KEYS)', repeat)
    .option('--min-version <N>', 'Refuse an index or archive whose signed version is lower than N (with --trusted-key)')
    .option('--config <FILE>', 'Per-store options and S3 credentials (default $XDG_CONFIG_HOME/wasync/config.json, else ~/.config/wasync/config.json)')
    .option('--ca-cert <FILE>', "HTTPS and S3 clients trust the CAs in FILE instead of the system's")
    .option('--client-cert <FILE>', 'Client certificate for servers that ask for one (mutual TLS)')
    .option('--client-key <FILE>', "The client certificate's private key")
    .option('-l, --log-level <LEVEL>', "Accepted as casync's clients pass it to pull and push; wasync logs with --verbose")
    .hook('preAction', (_p, verb) => checkOptions(verb.optsWithGlobals() as GlobalOptions))
    .showHelpAfterError(false)
    .configureOutput({ writeErr: (s) => process.stderr.write(s.replace(/^error: /, 'wasync: ')) });

  const opts = (cmd: Command) => cmd.optsWithGlobals() as GlobalOptions;
  // -c names an encoder cache, which only make of a tree has; casync ignores it elsewhere, wasync says so.
  p.hook('preAction', (_p, cmd) => {
    if (cmd.name() !== 'make' && opts(cmd).cacheAuto) throw unsupported(`${cmd.name()}: Caching only supported when archiving files trees.`);
  });
  p.command('make')
    .description('Serialize DIR into ARCHIVE (.catar) or chunk it into the store with ARCHIVE_INDEX (.caidx); chunk FILE or BLOCKDEV with BLOB_INDEX (.caibx)')
    .argument('[ARCHIVE|ARCHIVE_INDEX|BLOB_INDEX]')
    .argument('[DIR|FILE|BLOCKDEV|TAR|-]')
    .option('--input-format <tar>', 'The input is a tar (or pax) stream, uncompressed or gzip/xz/zstd; implied for *.tar and - when making an archive')
    .option('--pack', 'Then pack the store (as `wasync pack`), the new index first')
    .action((out, input, _o, cmd) => make(out, input, opts(cmd)));
  p.command('extract')
    .description('Recreate the tree of ARCHIVE or ARCHIVE_INDEX in DIR; reassemble the blob of BLOB_INDEX into FILE, BLOCKDEV or - (stdout)')
    .argument('[ARCHIVE|ARCHIVE_INDEX|BLOB_INDEX]')
    .argument('[DIR|FILE|BLOCKDEV|-]')
    .action((input, out, _o, cmd) => extract(input, out, opts(cmd)));
  p.command('digest')
    .description('Print the digest of DIRECTORY, ARCHIVE, ARCHIVE_INDEX (or PATH in them), FILE, BLOCKDEV or the blob of BLOB_INDEX')
    .argument('[ARCHIVE|ARCHIVE_INDEX|DIRECTORY|FILE|BLOCKDEV|BLOB_INDEX]')
    .argument('[PATH]')
    .action((input, path, _o, cmd) => digest(input, path, opts(cmd)));
  p.command('list')
    .description('List the contents of ARCHIVE, ARCHIVE_INDEX or DIRECTORY (below PATH)')
    .argument('[ARCHIVE|ARCHIVE_INDEX|DIRECTORY]')
    .argument('[PATH]')
    .option('--recursive <yes|no>', 'List subdirectories recursively (default yes)')
    .action((input, path, _o, cmd) => inspect('list', input, path, opts(cmd)));
  p.command('mtree')
    .description('Print the contents of ARCHIVE, ARCHIVE_INDEX or DIRECTORY (below PATH) in mtree format')
    .argument('[ARCHIVE|ARCHIVE_INDEX|DIRECTORY]')
    .argument('[PATH]')
    .action((input, path, _o, cmd) => inspect('mtree', input, path, opts(cmd)));
  p.command('stat')
    .description('Show metadata of PATH (or the top) in ARCHIVE, ARCHIVE_INDEX or DIRECTORY')
    .argument('[ARCHIVE|ARCHIVE_INDEX|DIRECTORY]')
    .argument('[PATH]')
    .action((input, path, _o, cmd) => inspect('stat', input, path, opts(cmd)));
  p.command('serve')
    .description('Serve the indexes, archives and chunk stores under DIR over HTTP or HTTPS (GET, HEAD; PUT with --writable); with --upstream, the chunks DIR lacks from other stores')
    .argument('[DIR]')
    .option('--listen <HOST:PORT>', 'Address to listen on (default 127.0.0.1:8080; port 0 picks a free one)')
    .option('--writable', 'Accept uploads (PUT) of verified chunks, indexes and archives; needs --token')
    .option('--upstream <STORE>', 'Fetch the chunks DIR lacks from this store, checked, and keep them in --cache (repeatable: tried in order)', repeat)
    .option('--cert <FILE>', 'Serve HTTPS with this certificate (PEM)')
    .option('--key <FILE>', "The certificate's private key (PEM)")
    .option('--client-ca <FILE>', 'Require client certificates signed by this CA (mutual TLS; needs --cert)')
    .action((dir, _o, cmd) => serve(dir, opts(cmd)));
  p.command('mkdev')
    .description('Serve the blob of BLOB_INDEX (or BLOB) as a read-only NBD export: attach /dev/nbdN (NODE: that device or a symlink to it), or serve NBD clients with --listen')
    .argument('[BLOB|BLOB_INDEX]')
    .argument('[NODE]')
    .option('--listen <unix:PATH|tcp:HOST:PORT>', 'Serve NBD clients on this socket instead of attaching a kernel device')
    .action((input, node, _o, cmd) => mkdev(input, node, opts(cmd)));
  p.command('mount')
    .description('Mount ARCHIVE or ARCHIVE_INDEX read-only on MOUNTPOINT (FUSE), or BLOB_INDEX as one file; runs until unmounted or interrupted')
    .argument('[ARCHIVE|ARCHIVE_INDEX|BLOB_INDEX]')
    .argument('[MOUNTPOINT]')
    .action((input, mountpoint, _o, cmd) => mount(input, mountpoint, opts(cmd)));
  for (const verb of ['pull', 'push'] as const) {
    p.command(verb)
      .description(
        verb === 'pull'
          ? 'Serve ARCHIVE or INDEX and the chunks of the STOREs over standard input and output (run by ssh clients for HOST:PATH)'
          : 'Take ARCHIVE or INDEX and the chunks WSTORE lacks over standard input and output (run by ssh clients for HOST:PATH)',
      )
      .argument('<BASE|->')
      .argument('<ARCHIVE|->')
      .argument('<INDEX|->')
      .argument('<WSTORE|->')
      .argument('[RSTORE...]')
      .action((base, archive, index, store, extra, _o, cmd) => pullPush(verb, [base, archive, index, store, ...extra], opts(cmd)));
  }
  p.command('verify')
    .description('Check that every chunk INDEX names is in a store, decompresses and matches its id')
    .argument('<INDEX>')
    .option('-r, --repair', 'Remove corrupt chunks from the stores (local directories, S3)')
    .action((index, _o, cmd) => verify(index, opts(cmd)));
  p.command('info')
    .description('Show the chunks of INDEX and how many of them the stores and seeds have: what an update would download')
    .argument('<INDEX>')
    .option('--json', 'Print the figures as JSON (desync\'s names)')
    .action((index, _o, cmd) => info(index, opts(cmd)));
  p.command('chop')
    .description('Store the chunks INDEX lists, cut from FILE (what the index was made of), in the store')
    .argument('<INDEX>')
    .argument('<FILE>')
    .action((index, file, _o, cmd) => chop(index, file, opts(cmd)));
  p.command('cat')
    .description('Write bytes of the blob of INDEX to OUT or standard output, fetching only the chunks they span')
    .argument('<INDEX>')
    .argument('[OUT|-]')
    .option('--offset <N>', 'First byte (default 0)')
    .option('--length <N>', 'Number of bytes (default: to the end)')
    .action((index, out, _o, cmd) => cat(index, out, opts(cmd)));
  p.command('chunk')
    .description('Print the start, size and id of each chunk FILE would be cut into, storing nothing')
    .argument('<FILE>')
    .action((file, _o, cmd) => chunk(file, opts(cmd)));
  p.command('list-chunks')
    .description('Print the chunk ids of INDEX; with --detailed also offsets, sizes and (with a local --store) stored sizes')
    .argument('<INDEX>')
    .option('--detailed', 'Print id, offset, size and, with --store, the size stored')
    .action((index, _o, cmd) => listChunksCli(index, opts(cmd)));
  p.command('inspect-chunks')
    .description("Print the chunks of INDEX as desync's JSON: id, uncompressed_size and, with a local --store, compressed_size")
    .argument('<INDEX>')
    .action((index, _o, cmd) => inspectChunks(index, opts(cmd)));
  p.command('config')
    .description('Print the configuration (or the options the store or index at LOCATION gets) as JSON, command-line options laid over it, secrets masked')
    .argument('[LOCATION]')
    .action((location, _o, cmd) => configCli(location, opts(cmd)));
  p.command('keygen')
    .description('Create a minisign key pair: the secret key (protected by a password unless --without-password) and the public key')
    .option('--key <SECRET>', 'Where the secret key goes (default wasync.key)')
    .option('--public-key <PUBLIC>', 'Where the public key goes (default the secret key with .pub for .key)')
    .option('--without-password', 'Leave the secret key unprotected (as minisign -W)')
    .option('--force', 'Replace existing key files')
    .action((_o, cmd) => keygen(cmd.opts() as SignOptions));
  p.command('sign')
    .description('Sign INDEX or ARCHIVE with a minisign secret key: writes INDEX.minisig, its trusted comment stating the name, size, SHA-256 and version')
    .argument('<INDEX|ARCHIVE...>')
    .option('--key <SECRET>', 'The secret key file (wasync keygen, minisign -G)')
    .option('--version <N>', 'The version the signature states (default: the time in seconds since 1970)')
    .action((files, _o, cmd) => sign(files, cmd.opts() as SignOptions));
  p.command('pack')
    .description("Copy the store's chunk files into pack files (STORE/pack/) for readers over HTTP; INDEX's chunks first, in its order")
    .argument('[STORE]')
    .argument('[INDEX...]')
    .action((store, indexes, _o, cmd) => pack(store, indexes, opts(cmd)));
  p.command('gc')
    .description('Remove chunks that none of the given indexes references from the store')
    .argument('<INDEX...>')
    .action((indexes, _o, cmd) => gc(indexes, opts(cmd)));
  return p;
}

export { mountHelper };

/** `SOURCE MOUNTPOINT … -o OPTIONS` where a verb would be: how mount.fuse runs the program of a fuse.TYPE. */
function isMountHelperCall(p: Command, argv: string[]): boolean {
  const verbs = new Set(p.commands.map((c) => c.name()));
  return argv.length >= 4 && !argv[0].startsWith('-') && !verbs.has(argv[0]) && !argv[1].startsWith('-') && argv.slice(2).includes('-o');
}

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('-v') || argv.includes('--verbose');
  if (isMountHelperCall(program(), argv)) return mountHelper(argv);
  exitOnSignals();
  try {
    const p = program();
    p.exitOverride();
    await p.parseAsync(argv, { from: 'user' });
    await serviceNotifier().flush();
    return 0;
  } catch (e) {
    const err = e as Error & { code?: string; exitCode?: number };
    const service = serviceNotifier();
    if (err.code?.startsWith('commander.')) {
      if (err.exitCode) service.failed(`wasync: ${err.message.replace(/^error: /, '')}`, new WasyncError('EUSAGE', err.message));
      await service.flush();
      return err.exitCode ?? 1;
    }
    if (e instanceof WasyncError) {
      process.stderr.write(`wasync: ${e.message}\n`);
      if (verbose && e.stack) process.stderr.write(`${e.stack}\n`);
      service.failed(`wasync: ${e.message}`, e);
    } else {
      process.stderr.write(`wasync: internal error: ${err?.stack ?? String(e)}\n`);
      service.failed(`wasync: internal error: ${err?.message ?? String(e)}`, e);
    }
    await service.flush();
    return 1;
  }
}
