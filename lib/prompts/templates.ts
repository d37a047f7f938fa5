// The paper's prompts for its seven settings, per dataset, and custom datasets from a small spec.
import { ConfigError } from '../errors.js';
import { GOEMOTIONS_LABELS, UNHEALTHY_LABELS } from '../data/datasets.js';

export const SETTINGS = ['Q-0S', 'Q-1S', 'Q-2S', 'CLS', 'CLS-P', 'LM', 'LM-P'] as const;
export type Setting = (typeof SETTINGS)[number];

/** What a dataset's prompts say: the noun for one label, its section title, and the label list. */
export interface TemplateSpec {
  /** 'emotion' → "the most appropriate emotion", "a list of chosen emotions" */
  noun: string;
  nounPlural: string;
  /** section title above the label list, e.g. 'Emotions' */
  section: string;
  /** the sentences after the first, describing the labels */
  description: string;
  labels: string[];
}

export const TEMPLATES: Record<'goemotions' | 'unhealthy', TemplateSpec> = {
  goemotions: {
    noun: 'emotion',
    nounPlural: 'emotions',
    section: 'Emotions',
    labels: GOEMOTIONS_LABELS,
    description: 'Emotions can be subtle or overt, so analyze the text carefully to make an accurate classification.',
  },
  unhealthy: {
    noun: 'label',
    nounPlural: 'labels',
    section: 'Labels',
    labels: UNHEALTHY_LABELS,
    description:
      'Labels represent different types of communication styles or tones, where each category denotes a specific attitude or approach that someone might exhibit when communicating with others. Analyze text carefully to make an accurate categorization.',
  },
};

export interface PromptInput {
  text: string;
  user?: string;
  /** same-user examples for Q-1S / Q-2S: their text and positive labels */
  examples?: { text: string; labels: string[] }[];
}

/** The prompt of one setting (it ends with "### Response:"; LM targets follow it). */
export function renderPrompt(spec: TemplateSpec, setting: Setting, x: PromptInput): string {
  const personal = setting === 'CLS-P' || setting === 'LM-P';
  const shots = setting === 'Q-1S' ? 1 : setting === 'Q-2S' ? 2 : 0;
  if (personal && (x.user === undefined || x.user === '')) throw new ConfigError(`${setting} needs the annotator id`);
  if ((x.examples?.length ?? 0) < shots) throw new ConfigError(`${setting} needs ${shots} example(s), got ${x.examples?.length ?? 0}`);
  let task = `ategorize the following text${personal ? ' for the specified user' : ''} by selecting the most appropriate ${spec.noun} from the provided list. ${spec.description}`;
  if (setting !== 'CLS' && setting !== 'CLS-P')
    task += ` Please compose your response as a list of chosen ${spec.nounPlural}, separated by commas.`;
  const head =
    shots === 1
      ? `Knowing that for the given example was provided the response given below c${task}`
      : shots === 2
        ? `Knowing that for the given examples were provided the responses given below c${task}`
        : `C${task}`;
  const parts = [head, ''];
  if (personal) parts.push('### User ID:', x.user!, '');
  if (shots === 1) parts.push('### Example:', x.examples![0].text, '', '### Example Response:', x.examples![0].labels.join(', '), '');
  if (shots === 2)
    x.examples!.slice(0, 2).forEach((e, i) =>
      parts.push(`### Example ${i + 1}:`, e.text, '', `### Example ${i + 1} Response:`, e.labels.join(', '), ''),
    );
  parts.push('### Text:', x.text, '', `### ${spec.section}:`, ...spec.labels.map((l) => `- ${l}`), '', '### Response:');
  return parts.join('\n');
}

/** The LM completion: a space, then the positive labels in label order, comma-separated. */
export function renderTarget(spec: TemplateSpec, labels: string[]): string {
  const order = new Map(spec.labels.map((l, i) => [l, i]));
  for (const l of labels) if (!order.has(l)) throw new ConfigError(`unknown label '${l}' (labels: ${spec.labels.join(', ')})`);
  return ' ' + [...labels].sort((a, b) => order.get(a)! - order.get(b)!).join(', ');
}

/** A custom dataset's spec from its labels and a few words. */
export function customTemplate(labels: string[], o: Partial<Omit<TemplateSpec, 'labels'>> = {}): TemplateSpec {
  return {
    noun: o.noun ?? 'label',
    nounPlural: o.nounPlural ?? `${o.noun ?? 'label'}s`,
    section: o.section ?? 'Labels',
    labels,
    description: o.description ?? 'Analyze the text carefully to make an accurate categorization.',
  };
}
