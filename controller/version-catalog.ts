/**
 * The version summaries the open read routes serve. The list of published versions is one listing
 * of the store per call (concurrent calls for a model share it); what each version says about
 * itself (creation time, signer hint) is read from the store once per version and remembered, since
 * a published version never changes. So a reader, however often it asks, costs one LIST per call,
 * not two GETs per version.
 */
import { mapLimit } from "../core/map-limit.js";
import {
  byCreation,
  type ModelRegistry,
  type PublishedVersion,
  type VersionDetails,
  type VersionSummary,
} from "../core/registry.js";
import { remembered } from "./remembered.js";

/** How many versions' details are remembered (the oldest go beyond). */
const REMEMBERED_VERSIONS = 4096;
const READ_CONCURRENCY = 8;

export class VersionCatalog {
  private readonly details = new Map<string, Promise<VersionDetails>>();
  private readonly listings = new Map<string, Promise<PublishedVersion[]>>();

  constructor(private readonly registry: ModelRegistry) {}

  /** Published versions of a model, oldest first; a version whose details cannot be read now has none. */
  async list(model: string): Promise<VersionSummary[]> {
    const published = await this.listPublished(model);
    const summaries = await mapLimit(published, READ_CONCURRENCY, async (version) => ({
      ...version,
      ...(await this.detailsOf(model, version.version).catch(() => ({}))),
    }));
    return summaries.sort(byCreation);
  }

  /** True when the store holds at least one published version of the model. */
  async hasVersions(model: string): Promise<boolean> {
    return (await this.listPublished(model)).length > 0;
  }

  private listPublished(model: string): Promise<PublishedVersion[]> {
    const running = this.listings.get(model);
    if (running !== undefined) return running;
    const listing = this.registry.listPublished(model).finally(() => this.listings.delete(model));
    this.listings.set(model, listing);
    return listing;
  }

  private detailsOf(model: string, version: string): Promise<VersionDetails> {
    return remembered(
      this.details,
      `${model}/${version}`,
      () => this.registry.readVersionDetails(model, version),
      REMEMBERED_VERSIONS,
    );
  }
}
