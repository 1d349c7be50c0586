#!/usr/bin/env node
// Compiles src/upstream/lb/xxhash64.wat to xxhash64.wasm with wabt (a dev dependency).
// The .wasm is committed so that running Switchyard needs no build step for it;
// test/unit/lb_xxhash.test.ts fails when the two disagree. `npm run build:wasm` runs this.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

async function compile() {
  const wabt = await require('wabt')();
  const src = path.join(__dirname, 'xxhash64.wat');
  const mod = wabt.parseWat(src, fs.readFileSync(src, 'utf8'));
  mod.validate();
  const { buffer } = mod.toBinary({ log: false, write_debug_names: false });
  mod.destroy();
  return Buffer.from(buffer);
}

module.exports = { compile };

if (require.main === module) {
  compile().then((b) => {
    fs.writeFileSync(path.join(__dirname, 'xxhash64.wasm'), b);
    console.log(`wrote xxhash64.wasm (${b.length} bytes)`);
  });
}
