#!/usr/bin/env node
// Entry of the `shardflow` command: loads the TypeScript sources through tsx, then the CLI.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
