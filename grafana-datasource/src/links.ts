// Where the project lives: the repository of the Go module github.com/hazewatch/hazewatch (go.mod). plugin.json's
// info.links name the same pages; packagecheck checks that they are absolute https URLs.
export const PROJECT_URL = 'https://github.com/hazewatch/hazewatch';
/** The plugin's user documentation: the README Grafana's catalog shows (src/README.md). */
export const DOCS_URL = `${PROJECT_URL}/blob/main/grafana-datasource/src/README.md`;
