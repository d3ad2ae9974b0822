#!/usr/bin/env node
// A committed entry so npm can link the `normkit` bin before the package is built.
import '../dist/cli.js';
