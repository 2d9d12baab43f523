// Properties provider for what the Nadzor engine reads from a model, shown beside bpmn-js's own
// groups (General, Documentation, Timer, …):
//   Names            name_kk, name_en (+ name_ru for lanes, title_kk/title_en for user tasks)
//   Form             formJsonSchemaFilename (user tasks, start events)
//   Role             role (user tasks: another role of the lane's office)
//   Deadline rule    deadline (the boundary timer that is the task's due instant),
//                    deadline_rule, deadline_rule_kk, deadline_rule_en (the rule in words)
//   Legal basis      basis ("11.3, 10.7" or "internal")
//   Script           bpmn:script of a script task; spiffworkflow:preScript / postScript
//   Condition        conditionExpression of a sequence flow leaving a gateway
//   Called procedure calledElement of a call activity
//   Decision table   spiffworkflow:calledDecisionId of a business rule task
//   Scheduled start  start_for (office levels a timer start event starts a case for)
//   Received data    spiffworkflow:messageVariable of a receive task
// All but the standard BPMN ones live in spiffworkflow:properties/property(name, value) — the
// dialect of SpiffWorkflow, our engine (see spiffworkflow.json). Every change is one command on
// the command stack, so undo/redo and "unsaved changes" see it as one step.
import {
  TextFieldEntry,
  TextAreaEntry,
  SelectEntry,
  isTextFieldEntryEdited,
  isTextAreaEntryEdited,
  isSelectEntryEdited
} from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { is, getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';

const PRIORITY = 400;

// ---------------------------------------------------------------------------------------------
// reading and writing spiffworkflow:property values

function extensionValues(bo) {
  const ext = bo && bo.get('extensionElements');
  return (ext && ext.get('values')) || [];
}

function spiffProperties(bo) {
  return extensionValues(bo).find((value) => is(value, 'spiffworkflow:Properties'));
}

function findProperty(bo, name) {
  const props = spiffProperties(bo);
  return props && (props.get('properties') || []).find((p) => p.get('name') === name);
}

/** The value of spiffworkflow:property `name` of `bo`, '' when absent. */
export function getSpiffProperty(bo, name) {
  const property = findProperty(bo, name);
  return (property && property.get('value')) || '';
}

function create(bpmnFactory, type, attrs, parent) {
  const element = bpmnFactory.create(type, attrs);
  element.$parent = parent;
  return element;
}

/**
 * Commands that set spiffworkflow:property `name` of `bo` to `value` (removing it when empty),
 * creating bpmn:extensionElements and spiffworkflow:properties on the way.
 */
function propertyCommands(element, bo, name, value, bpmnFactory) {
  const commands = [];
  const empty = value === undefined || value === null || String(value).trim() === '';
  let extensionElements = bo.get('extensionElements');
  let props = spiffProperties(bo);
  const existing = findProperty(bo, name);

  if (existing) {
    if (empty) {
      commands.push({
        cmd: 'element.updateModdleProperties',
        context: {
          element,
          moddleElement: props,
          properties: { properties: props.get('properties').filter((p) => p !== existing) }
        }
      });
    } else {
      commands.push({
        cmd: 'element.updateModdleProperties',
        context: { element, moddleElement: existing, properties: { value } }
      });
    }
    return commands;
  }
  if (empty) {
    return commands;
  }
  if (!extensionElements) {
    extensionElements = create(bpmnFactory, 'bpmn:ExtensionElements', { values: [] }, bo);
    commands.push({
      cmd: 'element.updateModdleProperties',
      context: { element, moddleElement: bo, properties: { extensionElements } }
    });
  }
  if (!props) {
    props = create(bpmnFactory, 'spiffworkflow:Properties', { properties: [] }, extensionElements);
    commands.push({
      cmd: 'element.updateModdleProperties',
      context: {
        element,
        moddleElement: extensionElements,
        properties: { values: [...extensionElements.get('values'), props] }
      }
    });
  }
  const property = create(bpmnFactory, 'spiffworkflow:Property', { name, value }, props);
  commands.push({
    cmd: 'element.updateModdleProperties',
    context: {
      element,
      moddleElement: props,
      properties: { properties: [...props.get('properties'), property] }
    }
  });
  return commands;
}

/** Commands that set the body of the single extension element `type` (removed when empty). */
function bodyElementCommands(element, bo, type, value, bpmnFactory) {
  const commands = [];
  const empty = value === undefined || value === null || String(value).trim() === '';
  let extensionElements = bo.get('extensionElements');
  const existing = extensionValues(bo).find((v) => is(v, type));
  if (existing) {
    commands.push({
      cmd: 'element.updateModdleProperties',
      context: empty
        ? {
          element,
          moddleElement: extensionElements,
          properties: { values: extensionElements.get('values').filter((v) => v !== existing) }
        }
        : { element, moddleElement: existing, properties: { value } }
    });
    return commands;
  }
  if (empty) {
    return commands;
  }
  if (!extensionElements) {
    extensionElements = create(bpmnFactory, 'bpmn:ExtensionElements', { values: [] }, bo);
    commands.push({
      cmd: 'element.updateModdleProperties',
      context: { element, moddleElement: bo, properties: { extensionElements } }
    });
  }
  const created = create(bpmnFactory, type, { value }, extensionElements);
  commands.push({
    cmd: 'element.updateModdleProperties',
    context: {
      element,
      moddleElement: extensionElements,
      properties: { values: [...extensionElements.get('values'), created] }
    }
  });
  return commands;
}

function run(commandStack, commands) {
  if (commands.length) {
    commandStack.execute('properties-panel.multi-command-executor', commands);
  }
}

// ---------------------------------------------------------------------------------------------
// entry components (rendered by the properties panel; hooks are allowed here)

function PropertyField(props) {
  const { element, id, name, label, description, multiline } = props;
  const bpmnFactory = useService('bpmnFactory');
  const commandStack = useService('commandStack');
  const translate = useService('translate');
  const debounce = useService('debounceInput');
  const bo = getBusinessObject(element);
  const entry = multiline ? TextAreaEntry : TextFieldEntry;
  return entry({
    element,
    id,
    label: translate(label),
    description: description ? translate(description) : undefined,
    getValue: () => getSpiffProperty(getBusinessObject(element), name),
    setValue: (value) => run(commandStack, propertyCommands(element, bo, name, value, bpmnFactory)),
    debounce,
    autoResize: multiline ? true : undefined
  });
}

function PropertySelect(props) {
  const { element, id, name, label, description, options } = props;
  const bpmnFactory = useService('bpmnFactory');
  const commandStack = useService('commandStack');
  const translate = useService('translate');
  const bo = getBusinessObject(element);
  const current = getSpiffProperty(bo, name);
  return SelectEntry({
    element,
    id,
    label: translate(label),
    description: description ? translate(description) : undefined,
    getValue: () => getSpiffProperty(getBusinessObject(element), name),
    setValue: (value) => run(commandStack, propertyCommands(element, bo, name, value, bpmnFactory)),
    getOptions: () => withCurrent(options(translate), current, translate)
  });
}

/** The options, plus the current value when it is not among them (never lose a value). */
function withCurrent(options, current, translate) {
  if (current && !options.some((o) => o.value === current)) {
    return [...options, { value: current, label: current }];
  }
  return options;
}

function ScriptField(props) {
  const { element, id } = props;
  const commandStack = useService('commandStack');
  const translate = useService('translate');
  const debounce = useService('debounceInput');
  return TextAreaEntry({
    element,
    id,
    label: translate('Script (Python)'),
    description: translate('Runs when the case reaches this step; assigns case data.'),
    getValue: () => getBusinessObject(element).get('script') || '',
    setValue: (value) =>
      commandStack.execute('element.updateModdleProperties', {
        element,
        moddleElement: getBusinessObject(element),
        properties: { script: value || undefined }
      }),
    debounce,
    monospace: true,
    autoResize: true,
    rows: 6
  });
}

// the text of a spiffworkflow body element (preScript, messageVariable…): one reader and writer,
// drawn as a multi-line script box or a one-line field
function extensionBodyEntry(Entry, extra) {
  return function ExtensionBody(props) {
    const { element, id, type, label, description } = props;
    const bpmnFactory = useService('bpmnFactory');
    const commandStack = useService('commandStack');
    const translate = useService('translate');
    const debounce = useService('debounceInput');
    const bo = getBusinessObject(element);
    return Entry({
      element,
      id,
      label: translate(label),
      description: description ? translate(description) : undefined,
      getValue: () => {
        const found = extensionValues(getBusinessObject(element)).find((v) => is(v, type));
        return (found && found.get('value')) || '';
      },
      setValue: (value) => run(commandStack, bodyElementCommands(element, bo, type, value, bpmnFactory)),
      debounce,
      ...extra
    });
  };
}

const ExtensionBodyField = extensionBodyEntry(TextAreaEntry, { monospace: true, autoResize: true });
const ExtensionBodyTextField = extensionBodyEntry(TextFieldEntry, {});

function ConditionField(props) {
  const { element, id } = props;
  const bpmnFactory = useService('bpmnFactory');
  const commandStack = useService('commandStack');
  const translate = useService('translate');
  const debounce = useService('debounceInput');
  return TextAreaEntry({
    element,
    id,
    label: translate('Condition (Python expression)'),
    description: translate('For example: decision == "forward". Empty: the flow has no condition.'),
    getValue: () => {
      const expression = getBusinessObject(element).get('conditionExpression');
      return (expression && expression.get('body')) || '';
    },
    setValue: (value) => {
      const bo = getBusinessObject(element);
      let conditionExpression;
      if (value && value.trim()) {
        conditionExpression = create(bpmnFactory, 'bpmn:FormalExpression', { body: value }, bo);
      }
      commandStack.execute('element.updateModdleProperties', {
        element,
        moddleElement: bo,
        properties: { conditionExpression }
      });
    },
    debounce,
    monospace: true,
    autoResize: true
  });
}

function CalledElementField(props) {
  const { element, id, procedures } = props;
  const commandStack = useService('commandStack');
  const translate = useService('translate');
  const debounce = useService('debounceInput');
  const getValue = () => getBusinessObject(element).get('calledElement') || '';
  const setValue = (value) =>
    commandStack.execute('element.updateModdleProperties', {
      element,
      moddleElement: getBusinessObject(element),
      properties: { calledElement: value || undefined }
    });
  const description = translate('The process id of the procedure this step starts and waits for.');
  if (procedures) {
    return SelectEntry({
      element,
      id,
      label: translate('Called procedure'),
      description,
      getValue,
      setValue,
      getOptions: () =>
        withCurrent(
          [{ value: '', label: translate('<none>') }].concat(
            procedures().map((p) => ({ value: p.id, label: p.name ? `${p.name} (${p.id})` : p.id }))
          ),
          getValue(),
          translate
        )
    });
  }
  return TextFieldEntry({
    element,
    id,
    label: translate('Called procedure'),
    description,
    getValue,
    setValue,
    debounce
  });
}

function FormField(props) {
  const { element, id, formFiles } = props;
  if (formFiles) {
    return PropertySelect({
      element,
      id,
      name: 'formJsonSchemaFilename',
      label: 'Form file',
      description: 'The form the user fills in at this step.',
      options: (translate) =>
        [{ value: '', label: translate('<none>') }].concat(
          formFiles().map((name) => ({ value: name, label: name }))
        )
    });
  }
  return PropertyField({
    element,
    id,
    name: 'formJsonSchemaFilename',
    label: 'Form file',
    description: 'The form the user fills in at this step, e.g. start.form.json.'
  });
}

function DeadlineTimerField(props) {
  const { element, id } = props;
  return PropertySelect({
    element,
    id,
    name: 'deadline',
    label: 'Deadline timer',
    description: 'The boundary timer whose instant is the task\'s due date (else the earliest interrupting one).',
    options: (translate) =>
      [{ value: '', label: translate('<none>') }].concat(
        (element.attachers || [])
          .filter((a) => (getBusinessObject(a).get('eventDefinitions') || []).some((d) => is(d, 'bpmn:TimerEventDefinition')))
          .map((a) => ({ value: a.id, label: getBusinessObject(a).get('name') ? `${getBusinessObject(a).get('name')} (${a.id})` : a.id }))
      )
  });
}

// ---------------------------------------------------------------------------------------------
// groups

function field(element, name, label, description, multiline) {
  return {
    id: `nadzor-${name}`,
    element,
    name,
    label,
    description,
    multiline,
    component: PropertyField,
    isEdited: multiline ? isTextAreaEntryEdited : isTextFieldEntryEdited
  };
}

function isGatewayFlow(element) {
  const bo = getBusinessObject(element);
  if (!is(bo, 'bpmn:SequenceFlow')) {
    return false;
  }
  const source = bo.get('sourceRef');
  if (source && source.get('default') === bo) {
    return false; // the default flow is taken when no condition holds: it has none of its own
  }
  return is(source, 'bpmn:ExclusiveGateway') || is(source, 'bpmn:InclusiveGateway') ||
    (is(source, 'bpmn:Activity') && !!bo.get('conditionExpression'));
}

function isNamed(element) {
  return is(element, 'bpmn:FlowNode') || is(element, 'bpmn:Participant') ||
    is(element, 'bpmn:Lane') || is(element, 'bpmn:SequenceFlow') || is(element, 'bpmn:Process');
}

export function nadzorGroups(element, options, translate) {
  const groups = [];
  const bo = getBusinessObject(element);
  if (element.type === 'label') {
    return groups;
  }

  if (isNamed(element)) {
    const entries = [];
    if (is(element, 'bpmn:Lane')) {
      entries.push(field(element, 'name_ru', 'Name (Russian)', 'The lane\'s name as people see it; the Name above is the lane key the organisation resolves.'));
    }
    entries.push(field(element, 'name_kk', 'Name (Kazakh)'));
    entries.push(field(element, 'name_en', 'Name (English)'));
    if (is(element, 'bpmn:UserTask')) {
      entries.push(field(element, 'title_kk', 'Task title (Kazakh)'));
      entries.push(field(element, 'title_en', 'Task title (English)'));
    }
    groups.push({ id: 'nadzor-names', label: translate('Names'), entries });
  }

  const timerStart = is(element, 'bpmn:StartEvent') &&
    (bo.get('eventDefinitions') || []).some((d) => is(d, 'bpmn:TimerEventDefinition'));
  if (timerStart) {
    groups.push({
      id: 'nadzor-schedule',
      label: translate('Scheduled start'),
      entries: [field(element, 'start_for', 'Offices that get a case',
        'Office levels, comma-separated: district, regional, gp. The timer (Timer group) says when.')]
    });
  }

  if (is(element, 'bpmn:UserTask') || is(element, 'bpmn:StartEvent')) {
    groups.push({
      id: 'nadzor-form',
      label: translate('Form'),
      entries: [{
        id: 'nadzor-formJsonSchemaFilename',
        element,
        formFiles: options.formFiles,
        component: FormField,
        isEdited: options.formFiles ? isSelectEntryEdited : isTextFieldEntryEdited
      }]
    });
  }

  if (is(element, 'bpmn:UserTask')) {
    groups.push({
      id: 'nadzor-role',
      label: translate('Role'),
      entries: [{
        id: 'nadzor-role',
        element,
        name: 'role',
        label: 'Role',
        description: 'Empty: the lane\'s role. Otherwise another role of the same office does the task.',
        options: (t) => [
          { value: '', label: t('<the lane\'s role>') },
          { value: 'prosecutor', label: t('prosecutor') },
          { value: 'head', label: t('head') }
        ],
        component: PropertySelect,
        isEdited: isSelectEntryEdited
      }]
    });
    groups.push({
      id: 'nadzor-deadline',
      label: translate('Deadline rule'),
      entries: [
        { id: 'nadzor-deadline-timer', element, component: DeadlineTimerField, isEdited: isSelectEntryEdited },
        field(element, 'deadline_rule', 'Deadline rule (Russian)', 'The rule in words, shown with the task.', true),
        field(element, 'deadline_rule_kk', 'Deadline rule (Kazakh)', undefined, true),
        field(element, 'deadline_rule_en', 'Deadline rule (English)', undefined, true)
      ]
    });
  }

  if (is(element, 'bpmn:Activity') || is(element, 'bpmn:Event')) {
    if (is(element, 'bpmn:UserTask') || getSpiffProperty(bo, 'basis')) {
      groups.push({
        id: 'nadzor-basis',
        label: translate('Legal basis'),
        entries: [field(element, 'basis', 'Paragraphs of the Instruction', 'For example: 11.3, 10.7 — or "internal" for an internal rule.')]
      });
    }
  }

  if (is(element, 'bpmn:Activity') && !is(element, 'bpmn:SubProcess')) {
    const entries = [];
    if (is(element, 'bpmn:ScriptTask')) {
      entries.push({ id: 'nadzor-script', element, component: ScriptField, isEdited: isTextAreaEntryEdited });
    }
    entries.push({
      id: 'nadzor-preScript', element, type: 'spiffworkflow:PreScript', label: 'Before the step (Python)',
      component: ExtensionBodyField, isEdited: isTextAreaEntryEdited
    });
    entries.push({
      id: 'nadzor-postScript', element, type: 'spiffworkflow:PostScript', label: 'After the step (Python)',
      component: ExtensionBodyField, isEdited: isTextAreaEntryEdited
    });
    groups.push({ id: 'nadzor-script', label: translate('Script'), entries });
  }

  if (isGatewayFlow(element)) {
    groups.push({
      id: 'nadzor-condition',
      label: translate('Condition'),
      entries: [{ id: 'nadzor-condition', element, component: ConditionField, isEdited: isTextAreaEntryEdited }]
    });
  }

  if (is(element, 'bpmn:CallActivity')) {
    groups.push({
      id: 'nadzor-called',
      label: translate('Called procedure'),
      entries: [{
        id: 'nadzor-calledElement', element, procedures: options.procedures,
        component: CalledElementField,
        isEdited: options.procedures ? isSelectEntryEdited : isTextFieldEntryEdited
      }]
    });
  }

  if (is(element, 'bpmn:ReceiveTask') || extensionValues(bo).some((v) => is(v, 'spiffworkflow:MessageVariable'))) {
    groups.push({
      id: 'nadzor-message-variable',
      label: translate('Received data'),
      entries: [{
        id: 'nadzor-messageVariable', element, type: 'spiffworkflow:MessageVariable',
        label: 'Case variable for the message', description: 'The message\'s content is stored in the case under this name.',
        component: ExtensionBodyTextField, isEdited: isTextFieldEntryEdited
      }]
    });
  }

  if (is(element, 'bpmn:BusinessRuleTask')) {
    groups.push({
      id: 'nadzor-decision',
      label: translate('Decision table'),
      entries: [{
        id: 'nadzor-calledDecisionId', element, type: 'spiffworkflow:CalledDecisionId',
        label: 'Decision id', description: 'The id of the decision in a .dmn file of this procedure.',
        component: ExtensionBodyTextField, isEdited: isTextFieldEntryEdited
      }]
    });
  }

  return groups;
}

/** Our groups go right after bpmn-js's "General" group (names first), the rest at the end. */
export default function NadzorPropertiesProvider(propertiesPanel, translate, config) {
  const options = config || {};
  propertiesPanel.registerProvider(PRIORITY, {
    getGroups(element) {
      return (groups) => {
        const ours = nadzorGroups(element, options, translate);
        const names = ours.filter((g) => g.id === 'nadzor-names');
        const rest = ours.filter((g) => g.id !== 'nadzor-names');
        const general = groups.findIndex((g) => g.id === 'general');
        const result = groups.slice();
        result.splice(general + 1, 0, ...names);
        // the documentation (with ¶ references) stays right after our names
        return result.concat(rest);
      };
    }
  });
}

NadzorPropertiesProvider.$inject = ['propertiesPanel', 'translate', 'config.nadzorProperties'];
