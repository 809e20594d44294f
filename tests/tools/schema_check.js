#!/usr/bin/env node
// Checks component documents against kiln's bundled JSON Schema with tools that share no
// code with kiln: the `yaml` package (what yaml-language-server parses with; YAML 1.2
// core schema) turns each document into JSON, and ajv validates it (draft-07, strict
// mode, all errors). tests/e2e/schema_ajv_test.cpp runs this and compares the verdicts
// with kiln's own schema-level diagnostics.
//
//   node schema_check.js SCHEMA.json LIST_FILE
// LIST_FILE holds one document path per line. Prints one line per document:
//   PATH<TAB>yaml-error|valid|invalid<TAB>details (the first errors, ';'-separated)
// Exit code 0 when every document was checked, 2 on a usage or schema problem.
'use strict';
const fs = require('fs');
const YAML = require('yaml');
const Ajv = require('ajv');

function main(argv) {
  if (argv.length !== 2) {
    process.stderr.write('usage: schema_check.js SCHEMA.json LIST_FILE\n');
    return 2;
  }
  const schema = JSON.parse(fs.readFileSync(argv[0], 'utf8'));
  const ajv = new Ajv({ allErrors: true, strictSchema: true, strictTypes: true, strictTuples: true, allowUnionTypes: true });
  let validate;
  try {
    validate = ajv.compile(schema);
  } catch (e) {
    process.stderr.write('schema does not compile: ' + e.message + '\n');
    return 2;
  }
  const paths = fs.readFileSync(argv[1], 'utf8').split('\n').filter((line) => line.length > 0);
  const out = [];
  for (const path of paths) {
    const doc = YAML.parseDocument(fs.readFileSync(path, 'utf8'));
    if (doc.errors.length > 0) {
      out.push([path, 'yaml-error', doc.errors[0].message.split('\n')[0]].join('\t'));
      continue;
    }
    const value = doc.toJS();
    if (validate(value)) {
      out.push([path, 'valid', ''].join('\t'));
    } else {
      const details = validate.errors.slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message}`);
      out.push([path, 'invalid', details.join('; ').replace(/[\t\n]/g, ' ')].join('\t'));
    }
  }
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}

process.exitCode = main(process.argv.slice(2));
