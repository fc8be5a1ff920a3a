#!/usr/bin/env node
// The `eft` bin: runs the TypeScript entry through tsx (the project's own runner), as `npm start` does.
require('tsx/cjs/api').register();
require('./main.ts');
