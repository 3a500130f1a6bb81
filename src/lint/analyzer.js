// Runs Microsoft's Kusto analyser (npm package @kusto/language-service-next) over every query
// of one `sentinel-kms lint` run, in one Node.js process. Built into the sentinel-kms binary.
//
// Argument: the package folder. Standard input, one JSON document:
//   {"tables": [{"name": "T", "columns": [{"name": "C", "type": "string"}]}],
//    "queries": ["query text", ...]}
// Standard output, one JSON document, results in the order of the queries:
//   {"version": "12.4.1",
//    "results": [{"diagnostics": [{"severity", "code", "message", "start", "length"}],
//                 "columns": [{"name", "type"}] or null when the query returns no table}]}
// `start` and `length` count UTF-16 code units of the query text, as JavaScript strings do.
// Any failure is a message on standard error and exit status 1.
'use strict';

const fs = require('fs');
const path = require('path');

function loadLanguage(packageDir) {
  require(path.join(packageDir, 'bridge.min.js'));
  require(path.join(packageDir, 'Kusto.Language.Bridge.min.js'));
  return globalThis.Kusto.Language;
}

function workspaceGlobals(language, tables) {
  const symbols = language.Symbols;
  const tableSymbols = tables.map((table) => {
    const columns = table.columns.map((column) => {
      const type = symbols.ScalarTypes.GetSymbol(column.type);
      if (type === null) {
        const where = `table ${table.name}, column ${column.name}`;
        throw new Error(`${where}: unknown type ${column.type}`);
      }
      return new symbols.ColumnSymbol(column.name, type);
    });
    return new symbols.TableSymbol.$ctor4(table.name, columns);
  });
  const database = new symbols.DatabaseSymbol('workspace', tableSymbols);
  return language.GlobalState.Default.WithDatabase(database);
}

function listOf(items) {
  const values = [];
  for (let index = 0; index < items.Count; index += 1) {
    values.push(items.getItem(index));
  }
  return values;
}

function resultColumns(language, type) {
  if (type === null || !Bridge.is(type, language.Symbols.TableSymbol)) {
    return null;
  }
  return listOf(type.Columns).map((column) => ({ name: column.Name, type: column.Type.Name }));
}

function analyse(language, globals, text) {
  const code = language.KustoCode.ParseAndAnalyze(text, globals);
  const diagnostics = listOf(code.GetDiagnostics()).map((diagnostic) => ({
    severity: diagnostic.Severity,
    code: diagnostic.Code,
    message: diagnostic.Message,
    start: diagnostic.Start,
    length: diagnostic.Length,
  }));
  return { diagnostics, columns: resultColumns(language, code.ResultType) };
}

function main() {
  const packageDir = process.argv[process.argv.length - 1];
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  const language = loadLanguage(packageDir);
  const globals = workspaceGlobals(language, input.tables);
  const results = input.queries.map((text) => analyse(language, globals, text));
  const version = require(path.join(packageDir, 'package.json')).version;
  process.stdout.write(JSON.stringify({ version, results }));
}

try {
  main();
} catch (error) {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exitCode = 1;
}
