#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

// Exit explicitly: an error may leave standard input open.
process.exit(await main(process.argv.slice(2)));
