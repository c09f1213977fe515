#!/usr/bin/env node
// mount(8)'s helper for the type fuse.wasync: link /sbin/mount.fuse.wasync here,
// or let fuse3's mount.fuse run `wasync SOURCE MOUNTPOINT -o OPTIONS`.
import { mountHelper } from '../dist/cli/main.js';

process.exit(await mountHelper(process.argv.slice(2)));
