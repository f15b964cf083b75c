/** The inventory formats, apart from the renderers so that defining the CLI's flags loads no YAML library. */
export const FORMATS = ['ansible', 'ansible-yaml', 'ssh', 'file_sd', 'hosts', 'json'] as const;
export type InventoryFormat = (typeof FORMATS)[number];
