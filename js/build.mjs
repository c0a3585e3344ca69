// `npm run build`: bundles src/ into ../steprun_widgets/widgets/static/ (one esbuild build, the
// same output on every machine: CI rebuilds and diffs it).
//
// uPlot hangs every path builder and helper on its export (uPlot.paths.bars, uPlot.join, ...),
// assignments esbuild must keep, so the builders the charts never use would ship in the step
// bundle: 6.4 kB of its 60 kB budget for the metrics (tests/bench/test_bench_metrics_chart.py).
// The plugin below removes those assignments from uPlot's module as it is loaded, so esbuild can
// drop the code behind them. It changes nothing else; if a uPlot version no longer has one of
// the lines, the build fails here (look again at what to drop rather than ship it silently).
//
// `node build.mjs --outdir=DIR --metafile=FILE` builds elsewhere and writes esbuild's metafile
// (what each input adds to each bundle), for the bundle-size benchmark.
import { readFile, writeFile } from "node:fs/promises";
import { build, context } from "esbuild";

const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

const UPLOT_UNUSED = [
  "uPlot.join = join;", // data alignment of several x series: one series per chart here
  "uPlot.tzDate  = tzDate;", // time-zone dates: x is the step, not a time
  "(paths.stepped = stepped);",
  "(paths.bars    = bars);",
  "(paths.spline  = monotoneCubic);",
];

const stripUplot = {
  name: "strip-unused-uplot",
  setup(b) {
    b.onLoad({ filter: /[\\/]uplot[\\/]dist[\\/]uPlot\.esm\.js$/ }, async (args) => {
      let code = await readFile(args.path, "utf8");
      for (const line of UPLOT_UNUSED) {
        if (!code.includes(line)) throw new Error(`uPlot changed: "${line}" is not in ${args.path} (see js/build.mjs)`);
        code = code.replace(line, "");
      }
      return { contents: code, loader: "js" };
    });
  },
};

const options = {
  entryPoints: ["src/loader.js", "src/step_widget.js", "src/step_widget.css", "src/pipeline_widget.js", "src/pipeline_widget.css", "src/compare_widget.js", "src/compare_widget.css"],
  bundle: true,
  format: "esm",
  minify: true,
  target: "es2020",
  charset: "utf8",
  legalComments: "eof",
  banner: {
    js:
      "/* steprun-widgets frontend, built from js/src. Bundles anser (MIT License, (c) Ionică Bizău) " +
      "and uPlot (MIT License, (c) Leon Sorokin) into step_widget.js and @dagrejs/dagre with " +
      "@dagrejs/graphlib (MIT License, (c) Chris Pettitt) into pipeline_widget.js, and uPlot into compare_widget.js. */",
  },
  outdir: arg("outdir") ?? "../steprun_widgets/widgets/static",
  plugins: [stripUplot],
  metafile: Boolean(arg("metafile")),
  logLevel: arg("metafile") ? "warning" : "info",
};
// `node build.mjs --watch` (`npm run watch`): rebuild on every save, for the dev loop with
// ANYWIDGET_HMR=1 (CONTRIBUTING.md).
if (process.argv.includes("--watch")) {
  const ctx = await context(options);
  await ctx.watch();
  console.log("watching js/src; the bundles are rebuilt on every save (Ctrl-C stops)");
  await new Promise(() => {});
}
const result = await build(options);
if (arg("metafile")) await writeFile(arg("metafile"), JSON.stringify(result.metafile));
