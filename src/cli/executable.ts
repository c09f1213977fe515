// The single executable's entry (scripts/build-exe.mjs compiles it with Bun; the
// npm package's is bin/wasync.js).  It is the command line, and the mount helper
// when its first argument is AS_MOUNT_HELPER: with no bin/mount.wasync.js in it,
// that is how the helper starts itself again in the background.
import { main, mountHelper } from './main.ts';
import { AS_MOUNT_HELPER } from './mount-helper.ts';

const argv = process.argv.slice(2);
// Exit explicitly: an error may leave standard input open.
process.exit(await (argv[0] === AS_MOUNT_HELPER ? mountHelper(argv.slice(1)) : main(argv)));
