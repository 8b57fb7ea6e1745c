// The controller serves uPlot's ES module (node_modules/uplot/dist/uPlot.esm.js) at /ui/vendor/uplot.js;
// this file gives the page's type check the package's own types for that path.
import uPlot from "uplot";
export default uPlot;
